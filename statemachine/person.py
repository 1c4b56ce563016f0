"""The person's details on a case: what each one accepts, and the folded form of a name
that search compares (no database here).

The details are optional (at registration and later): given and family names, preferred
language, whether an interpreter is needed, phone and e-mail. `clean_detail` turns raw
input into the stored value or raises BadInput naming the detail; its words never repeat
the value (it is personal data). `fold` is the one folding of names, used both when the
keys `given_key`/`family_key` are stored and when a search is asked, so that "Ozlem"
finds "Özlem" and "ostl" finds "Östlund".
"""

from __future__ import annotations

import re
import unicodedata

from etablera.statemachine.errors import BadInput
from etablera.statemachine.messages import Code

# name -> the kind of its field in the process table (REGISTER) and of its check here
DETAILS = {"given_name": "name", "family_name": "name", "language": "language", "interpreter": "flag",
           "phone": "phone", "email": "email"}
KEYS = {"given_name": "given_key", "family_name": "family_key"}
MAX_NAME, MAX_LANGUAGE, MAX_PHONE, MAX_EMAIL, KEY_LENGTH = 100, 40, 40, 200, 100
_MAX = {"name": MAX_NAME, "language": MAX_LANGUAGE, "phone": MAX_PHONE, "email": MAX_EMAIL}
_REFUSAL = {"name": "person_name_not_valid", "language": "person_language_not_valid",
            "phone": "person_phone_not_valid", "email": "person_email_not_valid"}

# Letters NFKD does not split into a base letter and a mark (after casefold).
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ı": "i", "ł": "l", "đ": "d", "ð": "d",
                          "þ": "th", "ħ": "h", "ŀ": "l"})
_NAME_MARKS = set(" -'’.")
_LANGUAGE = re.compile(r"^[^\W\d_](?:[^\W_]|[ ()/,.-])*$")
_PHONE = re.compile(r"^\+?[\d ()-]+$")
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:.]{2,}$")
_TRUE, _FALSE = ("1", "true", "yes", "ja", "on"), ("0", "false", "no", "nej", "off", "")


def fold(text: str | None) -> str:
    """A name's search form: decomposed (NFKD), combining marks dropped, case-folded, a few
    letters that do not decompose spelt in plain letters (ø→o, æ→ae, ß→ss, ı→i, ł→l,
    đ→d), runs of white space one space. "Özlem Øster-Łukasz" → "ozlem oster-lukasz"."""
    if not text:
        return ""
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    return " ".join(bare.casefold().translate(_LETTERS).split())


def key_of(name: str | None) -> str | None:
    """The stored search key of a name (None for no name)."""
    return (fold(name)[:KEY_LENGTH] or None) if name else None


def clean_detail(name: str, value):
    """The value to store for detail `name`, or None to clear it (a blank text); a value of
    the wrong shape is BadInput naming `name`."""
    kind = DETAILS[name]
    if kind == "flag":
        if isinstance(value, bool):
            return value
        text = str(value if value is not None else "").strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise BadInput("person_flag_not_valid", field=name)
    text = " ".join(str(value).split()) if value is not None else ""
    if not text:
        return None
    if not printable(text):
        raise BadInput(_REFUSAL[kind], field=name, max=_MAX[kind])
    if kind == "name":
        if len(text) > MAX_NAME or not _is_name(text):
            raise BadInput("person_name_not_valid", field=name, max=MAX_NAME)
        return text
    if kind == "language":
        if len(text) > MAX_LANGUAGE or not _LANGUAGE.match(text):
            raise BadInput("person_language_not_valid", field=name, max=MAX_LANGUAGE)
        return text
    if kind == "phone":
        digits = sum(ch.isdigit() for ch in text)
        if len(text) > MAX_PHONE or not _PHONE.match(text) or not 6 <= digits <= 15:
            raise BadInput("person_phone_not_valid", field=name)
        return text
    if len(text) > MAX_EMAIL or " " in text or not _EMAIL.match(text) or ".." in text:
        raise BadInput("person_email_not_valid", field=name, max=MAX_EMAIL)
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def printable(text: str) -> bool:
    """No control characters and nothing that cannot be stored as UTF-8 (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(unicodedata.category(ch) == "Cc" for ch in text)


def _is_name(text: str) -> bool:
    """Letters (any script, with their marks), spaces, hyphens, apostrophes and full stops;
    at least one letter, and it begins with one."""
    if not text[0].isalpha():
        return False
    return all(ch.isalpha() or unicodedata.combining(ch) or ch in _NAME_MARKS for ch in text)


def clean_details(raw: dict) -> dict:
    """`raw`'s details cleaned (only those given); an unknown key is BadInput naming it."""
    for key in raw:
        if key not in DETAILS:
            raise BadInput("person_unknown_detail", field=key, choices=[Code(d) for d in DETAILS])
    return {key: clean_detail(key, raw[key]) for key in DETAILS if key in raw}


def with_keys(details: dict) -> dict:
    """The column values for cleaned `details`: the details and the search keys of the
    names among them."""
    return {**details, **{KEYS[name]: key_of(details[name]) for name in KEYS if name in details}}


# A case row with no detail given: what the database defaults the columns to (a writer that
# names every column, as one INSERT for many rows or a prepared statement must, starts here).
NO_DETAILS = {**with_keys({name: None for name in DETAILS}), "interpreter": False}
