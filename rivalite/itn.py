"""Spoken and written forms of numbers, as Riva's transcripts show them.

Riva's `verbatim_transcripts=true` returns what the decoder emitted (spoken form: "twenty three dollars");
false (the proto default) applies inverse text normalization with NeMo's English ITN grammars (compiled to
the FAR files riva-build takes as --wfst_tokenizer_model/--wfst_verbalizer_model). Whisper writes numbers
its own way ("$23", "9:30", sometimes "nine"), so riva-lite first says Whisper's text (`spoken`), then
writes it again the way NeMo's grammar writes it (`written`); where Riva's output differs from NeMo's grammars
(NVIDIA's expected outputs), Riva's. What `written` covers, from NeMo's test cases
(NVIDIA/NeMo-text-processing tests/nemo_text_processing/en/data_inverse_text_normalization/):
- cardinals from thirteen up as digits without separators ("one thousand one" -> "1001"); zero to twelve
  stay words ("Numbers below thirteen are not converted", taggers/cardinal.py); "X million" stays "X million"
- ordinals ("twenty first" -> "21st", "first" -> "1st"; "second" is left alone: it is also the unit)
- money ("two dollars" -> "$2", "eleven dollars and fifty one cents" -> "$11.51", "one cent" -> "$0.01")
- percent with the sign as its own token, as Riva writes it ("thirty five percent" -> "35 %", where NeMo's current
  grammar writes "35%": NVIDIA's python-clients integration tests), decimals ("zero point two six" -> "0.26")
- times with two-digit hours ("two thirty" -> "02:30", "two p m" -> "02:00 p.m.", "three o'clock" -> "03:00")
Not imitated: dates, measures other than percent ("three hours" -> "3 h"), telephone numbers, electronic
addresses, "quarter past one" and the like.
"""

from __future__ import annotations

import re

UNITS = "zero one two three four five six seven eight nine".split()
TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TIES = "twenty thirty forty fifty sixty seventy eighty ninety".split()
SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_ORDINAL_WORDS = {"first": "one", "second": "two", "third": "three", "fifth": "five", "eighth": "eight",
                  "ninth": "nine", "twelfth": "twelve"}
_VALUE = {w: i for i, w in enumerate(UNITS)} | {w: 10 + i for i, w in enumerate(TEENS)}
_VALUE |= {w: 20 + 10 * i for i, w in enumerate(TIES)}


# -- numbers to words ------------------------------------------------------------------------------------
def say(n: int) -> str:
    """A whole number in words, American style without "and": 123 -> "one hundred twenty three"."""
    if n < 0:
        return "minus " + say(-n)
    if n < 20:
        return (UNITS + TEENS)[n] if n < 10 else TEENS[n - 10]
    if n < 100:
        return TIES[n // 10 - 2] + ("" if n % 10 == 0 else " " + UNITS[n % 10])
    if n < 1000:
        return UNITS[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + say(n % 100))
    for word, scale in sorted(SCALES.items(), key=lambda x: -x[1]):
        if n >= scale:
            rest = n % scale
            return say(n // scale) + " " + word + ("" if rest == 0 else " " + say(rest))
    raise AssertionError(n)


def say_ordinal(n: int) -> str:
    words = say(n).split()
    last = words[-1]
    spoken = {v: k for k, v in _ORDINAL_WORDS.items()}
    if last in spoken:
        words[-1] = spoken[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _say_year(n: int) -> str:
    """1990 -> "nineteen ninety", 1900 -> "nineteen hundred", 2005 -> "two thousand five"."""
    if 2000 <= n <= 2009:
        return say(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return say(hi) + " hundred"
    return say(hi) + " " + (say(lo) if lo >= 10 else "oh " + say(lo))


def _say_number(digits: str, year_ok: bool = True) -> str:
    plain = digits.replace(",", "")
    if "." in plain:
        whole, frac = plain.split(".", 1)
        head = say(int(whole)) if whole else ""
        return " ".join(filter(None, [head, "point", " ".join(UNITS[int(d)] for d in frac)]))
    n = int(plain)
    if year_ok and "," not in digits and len(plain) == 4 and (1100 <= n <= 1999 or 2000 <= n <= 2099):
        return _say_year(n)
    return say(n)


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+"
_SCALE = r"(?:\s+(?P<scale>thousand|million|billion|trillion)\b)?"
_AMPM = r"(?:\s*(?P<ampm>[ap])\.?\s?m\b\.?)?"
_WRITTEN = re.compile(
    rf"(?P<money>\$\s?(?P<amount>{_NUM}){_SCALE})"
    rf"|(?P<time>\b(?P<h>\d{{1,2}}):(?P<m>\d{{2}})\b{_AMPM})"
    rf"|(?P<hour>\b(?P<h2>\d{{1,2}})(?P<ampm2>\s*[ap]\.?\s?m\b\.?))"
    rf"|(?P<percent>(?P<pct>{_NUM})\s?%)"
    rf"|(?P<ordinal>\b(?P<ord>\d+)(?:st|nd|rd|th)\b)"
    rf"|(?P<number>(?<![\w.])(?:{_NUM})(?!\w))",
    re.IGNORECASE,
)


def _ampm(text: str | None) -> str:
    return "" if not text else " " + text.strip().lower()[0] + " m"


def _spoken_match(m: re.Match) -> str:
    if m["money"]:
        amount, scale = m["amount"].replace(",", ""), m["scale"]
        if scale:
            return f"{_say_number(amount, False)} {scale} dollars"
        dollars, _, cents = amount.partition(".")
        cents = int((cents + "00")[:2]) if cents else 0
        parts = []
        if dollars and int(dollars):
            parts.append(f"{say(int(dollars))} dollar{'' if int(dollars) == 1 else 's'}")
        if cents:
            parts.append(f"{say(cents)} cent{'' if cents == 1 else 's'}")
        return " ".join(parts) or "zero dollars"
    if m["time"]:
        h, mins = int(m["h"]), int(m["m"])
        hour = say(h)
        if mins == 0:
            return hour + (_ampm(m["ampm"]) or " o'clock")
        minute = say(mins) if mins >= 10 else "oh " + say(mins)
        return f"{hour} {minute}{_ampm(m['ampm'])}"
    if m["hour"]:
        return say(int(m["h2"])) + _ampm(m["ampm2"])
    if m["percent"]:
        return _say_number(m["pct"], False) + " percent"
    if m["ordinal"]:
        return say_ordinal(int(m["ord"]))
    return _say_number(m["number"])


def spoken(text: str) -> str:
    """Numbers, money, percent, ordinals and times written in digits, said in words (the rest unchanged).
    A number that starts a sentence of a capitalised text is capitalised."""
    out, last = [], 0
    for m in _WRITTEN.finditer(text):
        words = _spoken_match(m)
        before = text[: m.start()].rstrip()
        if any(c.isupper() for c in text) and (not before or before[-1] in ".?!"):
            words = words[0].upper() + words[1:]
        out += [text[last : m.start()], words]
        last = m.end()
    out.append(text[last:])
    return "".join(out)


# -- words to numbers (NeMo's en ITN conventions) ---------------------------------------------------------
_TOKEN = re.compile(r"^(?P<pre>[^\w$']*)(?P<core>[\w']+?)(?P<post>[^\w']*)$")


class _Word:
    def __init__(self, raw: str):
        m = _TOKEN.match(raw)
        self.raw = raw
        self.pre, self.core, self.post = (m["pre"], m["core"].lower(), m["post"]) if m else ("", "", raw)


def _ordinal(word: str) -> int | None:
    if word in _ORDINAL_WORDS and word != "second":
        return _VALUE[_ORDINAL_WORDS[word]]
    for suffix, base in (("ieth", "y"), ("th", "")):
        if word.endswith(suffix) and word[: -len(suffix)] + base in _VALUE:
            return _VALUE[word[: -len(suffix)] + base]
    if word in ("hundredth", "thousandth", "millionth", "billionth"):
        return -1  # a scale ordinal: handled by the parser
    return None


def _cardinal(words: list[_Word], i: int) -> tuple[int, int, bool, int] | None:
    """The longest number spelled from words[i]: (value, end index, ordinal?, trailing scale or 0).
    Punctuation ends a number (after the word that carries it)."""
    total, group, last, top, j = 0, 0, None, 10**18, i
    ordinal, end, trailing = False, None, 0
    while j < len(words):
        w = words[j].core
        if words[j].pre and j > i:
            break
        kind = None
        value = _VALUE.get(w)
        ordv = _ordinal(w) if value is None else None
        if ordv is not None and ordv >= 0:
            value, ordinal = ordv, True
        if value is not None:
            if value < 10:
                ok = last in (None, "hundred", "scale", "and") or (last == "tie" and group % 10 == 0)
                kind = "unit" if last != "tie" else "tie+unit"
            elif value < 20:
                ok, kind = last in (None, "hundred", "scale", "and"), "teen"
            else:
                ok, kind = last in (None, "hundred", "scale", "and"), "tie"
            if w == "zero" and last is not None:
                ok = False
            if not ok:
                break
            group += value
        elif w in ("hundred", "hundredth") and last in ("unit", "teen", "tie", "tie+unit") and group % 100:
            if group >= 10 and total:  # "eleven hundred" only as the whole number
                break
            group, kind, ordinal = group * 100, "hundred", w.endswith("th")
        elif w.rstrip("th") in SCALES and last not in (None, "scale", "and") and group:
            scale = SCALES[w.rstrip("th")]
            if scale >= top:
                break
            total, group, top, kind, ordinal = total + group * scale, 0, scale, "scale", w.endswith("th")
            trailing = scale
        elif w == "and" and last in ("hundred", "scale") and j + 1 < len(words) and words[j].post == "" \
                and words[j + 1].core in _VALUE:
            kind = "and"
        else:
            break
        last, j = kind, j + 1
        if kind != "and":
            end = j
            if kind != "scale":
                trailing = 0
        if ordinal or words[j - 1].post:
            break
    if end is None:
        return None
    return total + group, end, ordinal, trailing


def _digits(words: list[_Word], i: int) -> tuple[str, int] | None:
    """Digit words after "point": ("26", end)."""
    out, j = "", i
    while j < len(words) and (words[j].core in UNITS or words[j].core in ("o", "oh")) and not words[j].pre:
        out += "0" if words[j].core in ("o", "oh") else str(_VALUE[words[j].core])
        j += 1
        if words[j - 1].post:
            break
    return (out, j) if out else None


def _two_digits(words: list[_Word], i: int, ties: list[str] = TIES[:4]) -> tuple[int, int] | None:
    """Minutes ("oh five", "fifteen", "forty two"; `ties` limits the tens) or a year's second half."""
    if i >= len(words) or words[i].pre:
        return None
    w = words[i].core
    if w in ("o", "oh") and i + 1 < len(words) and words[i + 1].core in UNITS[1:] and not words[i].post:
        return _VALUE[words[i + 1].core], i + 2
    if w in TEENS:
        return _VALUE[w], i + 1
    if w in ties:
        if i + 1 < len(words) and words[i + 1].core in UNITS[1:] and not words[i].post:
            return _VALUE[w] + _VALUE[words[i + 1].core], i + 2
        return _VALUE[w], i + 1
    return None


def _suffix(words: list[_Word], i: int) -> tuple[str, int] | None:
    """ "a m" / "p m" / "am" / "pm" / "o'clock" after an hour."""
    if i >= len(words):
        return None
    w = words[i].core
    if w in ("am", "pm"):
        return f"{w[0]}.m.", i + 1
    if w in ("a", "p") and i + 1 < len(words) and words[i + 1].core == "m" and not words[i].post:
        return f"{w}.m.", i + 2
    if w in ("o'clock", "oclock"):
        return "", i + 1
    return None


def _time(words: list[_Word], i: int) -> tuple[str, int] | None:
    w = words[i].core
    if w not in _VALUE or not 1 <= _VALUE[w] <= 12 or words[i].post:
        return None
    hour, j, minutes = _VALUE[w], i + 1, 0
    found = _two_digits(words, j)
    if found:
        minutes, j = found
    suffix = _suffix(words, j) if not words[j - 1].post else None
    if not found and suffix is None:
        return None
    text = f"{hour:02d}:{minutes:02d}"
    if suffix:
        text, j = (text + " " + suffix[0]) if suffix[0] else text, suffix[1]
    return text, j


def _year(words: list[_Word], i: int) -> tuple[str, int] | None:
    """ "nineteen ninety four" -> "1994", "twenty twelve" -> "2012", "nineteen oh five" -> "1905" (NeMo's date
    grammar); a first half of ten to twelve is left to the time grammar ("eleven fifty" -> "11:50")."""
    first = _two_digits(words, i, TIES)
    if first is None or first[0] < 13 or words[i].core in ("o", "oh") or words[first[1] - 1].post:
        return None
    second = _two_digits(words, first[1], TIES)
    if second is None or (second[0] < 10 and words[first[1]].core not in ("o", "oh")):
        return None
    if second[1] < len(words) and not words[second[1] - 1].post and (
            words[second[1]].core in SCALES or words[second[1]].core == "hundred"):
        return None
    return str(first[0] * 100 + second[0]), second[1]


def _money_or_percent(words: list[_Word], j: int, number: str, scale: str) -> tuple[str, int] | None:
    if j >= len(words) or words[j - 1].post:
        return None
    w = words[j].core
    if w == "percent" and not scale:
        return number + " %", j + 1  # Riva writes the sign as its own token (docs/riva-behaviour.md)
    if w in ("dollar", "dollars"):
        text, k = "$" + number + (" " + scale if scale else ""), j + 1
        if scale or words[j].post or "." in number:
            return text, k
        k2 = k + 1 if k < len(words) and words[k].core == "and" and not words[k].post else k
        cents = _cardinal(words, k2) if k2 < len(words) else None
        if cents and not cents[2] and cents[0] < 100 and cents[1] < len(words) \
                and words[cents[1]].core in ("cent", "cents") and not words[cents[1] - 1].post:
            return f"${number}.{cents[0]:02d}", cents[1] + 1
        return text, k
    if w in ("cent", "cents") and not scale and "." not in number and int(number) < 100:
        return f"$0.{int(number):02d}", j + 1
    return None


def _convert(words: list[_Word], i: int) -> tuple[str, int] | None:
    """The written form of the number expression at words[i], and where it ends; None if there is none."""
    if (t := _time(words, i)) is not None:
        return t
    if (y := _year(words, i)) is not None:
        return y
    if words[i].core == "minus" and not words[i].post and i + 1 < len(words):
        found = _cardinal(words, i + 1)
        if found and found[0] >= 13 and not found[2]:
            return f"-{found[0]}", found[1]
    if words[i].core == "point":
        frac = _digits(words, i + 1) if not words[i].post else None
        if frac:
            number, j = "." + frac[0], frac[1]
            return _money_or_percent(words, j, number, "") or (number, j)
        return None
    found = _cardinal(words, i)
    if found is None:
        return None
    value, j, ordinal, trailing = found
    if ordinal:
        n = value
        suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}", j
    number, scale = str(value), ""
    if j < len(words) and words[j].core == "point" and not words[j - 1].post and not words[j].post:
        frac = _digits(words, j + 1)
        if frac:
            number, j = f"{value}.{frac[0]}", frac[1]
            if j < len(words) and words[j].core in SCALES and not words[j - 1].post:
                scale, j = words[j].core, j + 1
    elif trailing >= 10**6 and value % trailing == 0 and value // trailing < 1000:
        number, scale = str(value // trailing), words[j - 1].core
    if (mp := _money_or_percent(words, j, number, scale)) is not None:
        return mp
    if scale:
        return f"{number} {scale}", j
    if "." in number or value >= 13:
        return number, j
    return None


def written(text: str) -> str:
    """Spoken numbers written as NeMo's English ITN writes them; every other word unchanged."""
    raw = [p for part in text.split() for p in _split_hyphens(part)]
    words = [_Word(r) for r in raw]
    out, i = [], 0
    while i < len(words):
        found = _convert(words, i) if words[i].core else None
        if found is None:
            out.append(words[i].raw)
            i += 1
            continue
        value, j = found
        out.append(words[i].pre + value + words[j - 1].post)
        i = j
    return " ".join(out)


def _split_hyphens(part: str) -> list[str]:
    pieces = part.split("-")
    if len(pieces) > 1 and all(p.strip(".,?!;:").lower() in _VALUE or _ordinal(p.strip(".,?!;:").lower())
                               for p in pieces[1:]) and pieces[0].strip("\"'(").lower() in _VALUE:
        return pieces
    return [part]
