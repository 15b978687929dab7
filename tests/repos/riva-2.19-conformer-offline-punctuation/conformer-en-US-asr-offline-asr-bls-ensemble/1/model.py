placeholder: the real file is binary or large; phase 030 checks only that it is here
