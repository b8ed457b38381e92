"""Passwords: Argon2id hashing and the policy for new passwords (NIST SP 800-63B)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # Argon2id, the library's current recommended parameters


@functools.cache
def dummy_hash() -> str:
    """Verified against when the user does not exist (or is locked), so every answer costs the
    same time. Made on first use: hashing takes 64 MiB, not for commands that never sign in."""
    return _HASHER.hash("khoyte-no-such-user")


# Words a guesser tries first here, beyond zxcvbn's own lists (passwords, English words and
# names): the Vietnamese word for password, the system's and the department's names, roles.
_LOCAL_WORDS = (
    "matkhau", "mat khau", "khoyte", "soyte", "so y te", "yte", "benhvien", "tramyte",
    "quantri", "admin", "vietnam", "hanoi", "saigon", "bhyt", "baohiem",
)  # fmt: skip
_STRONG_GUESSES_LOG10 = 10.0  # zxcvbn's score 4: at least 10^10 guesses
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters are judged


def password_problems(password: str, username: str, min_length: int) -> list[tuple[str, str]]:
    """What is wrong with a new password, as (Vietnamese, English) messages; empty = fine.

    NIST SP 800-63B: a minimum length, no composition rules, and a check against passwords
    known to be common or breached (finding F11). zxcvbn (offline, no network) carries the
    lists (30 000 most common passwords, words, names) and finds the patterns guessers try:
    l33t substitutions, appended years and digits, keyboard walks, repeats and sequences."""
    from zxcvbn import zxcvbn  # its lists load on first use, not for every `khoyte` command

    out: list[tuple[str, str]] = []
    if len(password) < min_length:
        out.append(
            (f"Mật khẩu phải có ít nhất {min_length} ký tự.", f"At least {min_length} characters.")
        )
    if len(password) > 256:
        out.append(("Mật khẩu dài quá 256 ký tự.", "At most 256 characters."))
    low = password.lower()
    if username and username.lower() in low:
        out.append(("Mật khẩu không được chứa tên đăng nhập.", "Must not contain the username."))
    if password and len(password) <= 256:
        found = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[username, *_LOCAL_WORDS])
        if float(found["guesses_log10"]) < _STRONG_GUESSES_LOG10 or len(set(password)) < 4:
            hint = found["feedback"]["warning"] or "It follows a common pattern."
            out.append(
                (
                    "Mật khẩu quá dễ đoán: nằm trong danh sách mật khẩu phổ biến hoặc theo mẫu "
                    "dễ đoán (từ thông dụng, năm, dãy số, lặp lại, thay chữ bằng ký hiệu). "
                    "Hãy dùng một cụm vài từ ít gặp.",
                    f"Too easy to guess: {hint} Use a phrase of a few uncommon words.",
                )
            )
    return out


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
