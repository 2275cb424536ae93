"""Password rules and hashing, in one place for the sign-in pages and the command line."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12

# The most common passwords of 12 or more characters in public breach lists, plus obvious local choices.
COMMON_PASSWORDS = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456789123 password1234 password12345 passwordpassword
    qwertyuiopas qwerty123456 qwertyuiop123 1q2w3e4r5t6y 1qaz2wsx3edc abcdefghijkl abc123abc123
    iloveyou1234 welcome12345 letmein12345 administrator admin1234567 changeme1234 trustno11234
    football1234 baseball1234 superman1234 starwars1234 monkey123456 dragon123456 sunshine1234
    111111111111 000000000000 aaaaaaaaaaaa 121212121212 987654321098 zaq12wsxcde3 passw0rd1234
    violencereduction vru123456789 kentpolice123 policeandcrime password2025 password2026 welcome2025
    welcome2026 summer2025!! winter2025!! autumn2025!! spring2025!!
    """.split()
)


# 19,640 common passwords from public breach lists (the list Django ships; source in the file's header).
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")
# Digits and punctuation people tack on to meet a length rule ("iloveyou2025!!").
_DECORATION = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list plus our local additions, lower case."""
    with COMMON_PASSWORDS_FILE.open(encoding="utf-8") as lines:
        listed = {line.strip() for line in lines if line.strip() and not line.startswith("# ")}
    return frozenset(listed) | COMMON_PASSWORDS


def is_common(password: str) -> bool:
    """A listed password, or a listed word of 6+ characters padded with digits and symbols to pass the length rule."""
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    stem = _DECORATION.sub("", lowered)
    return len(stem) >= 6 and stem != lowered and stem in listed


# Words anyone attacking this service would try first (zxcvbn counts them as known words).
SERVICE_WORDS = ("vru", "tracker", "vrutracker", "violence", "reduction", "unit", "violencereduction",
                 "violencereductionunit", "pcc", "opcc", "police", "crime", "commissioner", "kent", "youth",
                 "futures", "youngfutures", "password", "admin", "finance", "manager", "viewer", "office",
                 "pccoffice", "officeofthepcc")
# A year and the separators people put between words: taken out before scoring again, so that "Vru-Tracker-2026"
# is judged as the "VruTracker" an attacker's word list tries with every year and separator.
_YEARS = re.compile(r"(19|20)\d\d")
_SEPARATORS = re.compile(r"[\s\-_.,;:!?*#@+/'\"&()\[\]~^$%]+")
# zxcvbn's scores run 0-4; 3 is "safely unguessable: moderate protection from an offline slow-hash attack".
MIN_SCORE = 3
_REPEAT = re.compile(r"^(.{1,6}?)\1+(.{0,3})$", re.S)
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiopasdfghjklzxcvbnm", "01234567890")


def _is_repeat_or_sequence(password: str) -> bool:
    """abcdabcdabcd, 123412341234, aaaaaaaaaaaa, abcdefghijklm, 987654321098: the whole password is one short
    piece repeated, or a run along the alphabet, the digits or the keyboard (either way)."""
    lowered = password.lower()
    if _REPEAT.match(lowered):
        return True
    core = re.sub(r"[\d\W_]+$", "", lowered) or lowered
    for run in _SEQUENCES:
        for text in (run * 3, run[::-1] * 3):
            if len(core) >= 6 and core in text:
                return True
    return False


def _local_part(email: str) -> str:
    return (email or "").strip().lower().partition("@")[0]


def password_problem(password: str, email: str = "", name: str = "") -> str | None:
    """Why a new password is not acceptable, or None. ``email`` and ``name`` are the account's."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters"
    lowered = password.lower()
    local = _local_part(email)
    if len(local) >= 3 and (local in lowered or re.sub(r"[\W_]+", "", local) in re.sub(r"[\W_]+", "", lowered)):
        return "Do not use your e-mail address (or the part before the @) in your password"
    if _is_repeat_or_sequence(password):
        return "Do not use repeated characters or sequences such as abcabc or 123412341234; a few unrelated words work well"
    if len(set(password)) < 4 or is_common(password):
        return "That password is too common or too easy to guess; choose another"
    inputs = known_words(email, name)
    bare = _SEPARATORS.sub("", _YEARS.sub("", password))
    if strength(password, email, name, inputs) < MIN_SCORE or (
            bare != password and strength(bare, email, name, inputs) < MIN_SCORE):
        lowered_bare = bare.lower()
        if any(len(word) >= 3 and word in lowered_bare for word in inputs):
            return ("That password is too easy to guess: it is built from your name, your e-mail or this service's "
                    "own words (VRU, tracker, PCC, office ...) with a year or symbols, which anyone attacking it "
                    "tries first. A few unrelated words work well (for example four random words)")
        return ("That password is too easy to guess: without its year and punctuation it is a common word or "
                "pattern. A few unrelated words work well (for example four random words)")
    return None


def known_words(email: str = "", name: str = "") -> list[str]:
    """What zxcvbn is told an attacker knows: this service's own words, the organisation's names from the settings
    (when there is an app), and the account's e-mail and name, each word and run together."""
    texts = [email, name]
    if has_app_context():
        from tracker import settings

        for key in ("vru_name", "pcc_name"):
            try:
                texts.append(str(settings.get(key) or ""))
            except Exception:  # no settings table yet (a fresh database): the built-in words still apply
                pass
    words = list(SERVICE_WORDS)
    for text in texts:
        parts = [w for w in re.split(r"[\W_]+", text.lower()) if w]
        words += [w for w in parts if len(w) >= 3]
        if len(parts) > 1:
            words.append("".join(parts))
    return list(dict.fromkeys(words))


def strength(password: str, email: str = "", name: str = "", inputs: list[str] | None = None) -> int:
    """zxcvbn's score, 0-4, knowing the account's e-mail and name and this service's own words."""
    from zxcvbn import zxcvbn

    inputs = known_words(email, name) if inputs is None else inputs
    return int(zxcvbn(password[:100], user_inputs=inputs)["score"])


def hash_password(password: str) -> str:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    return generate_password_hash(password, method=method)


def check_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


# A hash to check against when the e-mail is unknown, so both failures take the same time.
_DUMMY_HASHES: dict[str, str] = {}


def dummy_check(password: str) -> None:
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("not-a-real-password", method=method)
    check_password_hash(_DUMMY_HASHES[method], password)
