"""Valid synthetic identity numbers for tests (Luhn check digit computed here)."""

from __future__ import annotations


def luhn_digit(nine: str) -> int:
    total = 0
    for i, ch in enumerate(nine):
        v = int(ch) * (2 - i % 2)
        total += v - 9 if v > 9 else v
    return (10 - total % 10) % 10


def pnr(birth: str, serial: int = 123, coordination: bool = False) -> str:
    """`birth` is YYYYMMDD; returns YYYYMMDD-NNNC (day + 60 for a coordination number)."""
    year, month, day = birth[:4], birth[4:6], int(birth[6:8])
    if coordination:
        day += 60
    short = f"{year[2:]}{month}{day:02d}{serial:03d}"
    return f"{year}{month}{day:02d}-{serial:03d}{luhn_digit(short)}"
