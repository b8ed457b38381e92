"""More of the identity noise record linkage meets in the world, laid over the synth's records.

The generator already leaves CCCD out (children, 3 % of clerks), renews cards with a new object
code and mistypes 3 % of names. Real registers add more, and this adds it on top, decided by a
hash of the record key so that it is the same on every run and leaves the generator's random
stream (and every other figure of the manifest) untouched:

- date of birth: day and month swapped (1.5 %), day unknown ``yyyymm00`` (1 %), only the year
  ``yyyy0000`` (0.5 %);
- phone: not captured (25 %), a different number (3 %: a new SIM);
- residence: another commune (3 %: a move, or the clerk's slip);
- name: one letter dropped from the given name (1 %).

The truth stays the synth's ``truth/visits.csv`` (record → person).
"""

from __future__ import annotations

from dataclasses import replace

from khoyte.persons.identity import Identity, fold
from khoyte.synth.people import mix


def _h(key: str, salt: int) -> int:
    return mix(salt, *key.encode())


def noisy(ident: Identity, communes: list[str], seed: int = 7) -> Identity:
    k = ident.key
    u = _h(k, seed) % 10_000
    dob = ident.dob
    if dob and dob[4:] != "0000":
        y, m, d = dob[:4], dob[4:6], dob[6:]
        if u < 150 and d != "00" and int(d) <= 12 and d != m:
            dob = y + d + m
        elif 150 <= u < 250:
            dob = y + m + "00"
        elif 250 <= u < 300:
            dob = y + "0000"
    v = _h(k, seed + 1) % 10_000
    phone = ident.phone
    if v < 2500:
        phone = None
    elif v < 2800:
        phone = f"03{_h(k, seed + 2) % 100_000_000:08d}"
    w = _h(k, seed + 3) % 10_000
    commune = ident.commune
    if w < 300 and communes:
        commune = communes[_h(k, seed + 4) % len(communes)]
    name = ident.name_norm
    if name and _h(k, seed + 5) % 10_000 < 100:
        parts = name.split(" ")
        g = parts[-1]
        if len(g) >= 3:
            i = 1 + _h(k, seed + 6) % (len(g) - 1)
            parts[-1] = g[:i] + g[i + 1 :]
        name = fold(" ".join(parts))
    parts = name.split(" ") if name else []
    return replace(
        ident,
        dob=dob,
        phone=phone,
        commune=commune,
        name_norm=name,
        family=parts[0] if parts else None,
        given=parts[-1] if parts else None,
        name_key=f"{parts[0]} {parts[-1]}" if len(parts) >= 2 else name,
    )


def twins(
    idents: list[Identity], truth: dict[str, int], share: float = 0.01, seed: int = 11
) -> tuple[list[Identity], dict[str, int]]:
    """Add a twin to ``share`` of the persons: born the same day, same family name, same home,
    same (a parent's) phone, another given name, their own CCCD and card when they have one.
    Each of the twin's visits mirrors one of their sibling's (same facility, ``MA_LK`` + ``T``).
    The truth gains the twins as new persons (``-1 - person``)."""
    out, truth = list(idents), dict(truth)
    for ident in idents:
        pid = truth[ident.key]
        if mix(seed, pid) % 10_000 >= share * 10_000:
            continue
        parts = (ident.name_norm or "x").split(" ")
        given = _OTHER_GIVEN[mix(seed + 1, pid) % len(_OTHER_GIVEN)]
        if given == parts[-1]:
            given = _OTHER_GIVEN[(mix(seed + 1, pid) + 1) % len(_OTHER_GIVEN)]
        name = " ".join([*parts[:-1], given])
        other = f"{mix(seed + 2, pid) % 10**10:010d}"
        twin = replace(
            ident,
            ma_lk=ident.ma_lk + "T",
            ho_ten=name,
            name_norm=name,
            given=given,
            name_key=f"{parts[0]} {given}",
            cccd=(ident.cccd[:6] + other[:6]) if ident.cccd else None,
            bhxh=other if ident.bhxh else None,
            card=(ident.card[:5] + other) if ident.card else None,
        )
        out.append(twin)
        truth[twin.key] = -1 - pid
    return out, truth


_OTHER_GIVEN = ("an", "binh", "khang", "phuc", "ngoc", "vy", "nhi", "bao", "tam", "linh")
