# placeholder: the real model.py is Riva's; phase 030 checks only that it is here
