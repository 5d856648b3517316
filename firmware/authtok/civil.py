"""Unix seconds <-> proleptic Gregorian calendar fields (UTC).

Why not time.gmtime/mktime: MicroPython's epoch is 2000 on the ESP32 and 1970 on the unix
port, and its small ints overflow in 2038. Howard Hinnant's days-from-civil algorithms are
pure integer arithmetic, exact for any year, and let big ints carry us past 2106.
"""

_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year, month):
    if month == 2 and is_leap(year):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def days_from_civil(y, m, d):
    """Days since 1970-01-01 for a (valid) date; no range checks, see from_fields."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400  # [0, 399]
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1  # [0, 365], March-based
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy  # [0, 146096]
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) for a count of days since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400
    if m <= 2:
        y += 1
    return y, m, d


def weekday(y, m, d):
    """0=Monday..6=Sunday (1970-01-01 was a Thursday)."""
    return (days_from_civil(y, m, d) + 3) % 7


def to_fields(t):
    """(year, month, day, hour, minute, second, weekday) for Unix seconds t (UTC)."""
    days, rem = divmod(int(t), 86400)
    y, m, d = civil_from_days(days)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    return y, m, d, hh, mm, ss, (days + 3) % 7


def from_fields(year, month, day, hour, minute, second):
    """Unix seconds for UTC calendar fields; ValueError if a field is out of range."""
    if not 1 <= month <= 12:
        raise ValueError("month")
    if not 1 <= day <= days_in_month(year, month):
        raise ValueError("day")
    if not 0 <= hour <= 23:
        raise ValueError("hour")
    if not 0 <= minute <= 59:
        raise ValueError("minute")
    if not 0 <= second <= 59:  # the RTC has no leap seconds, neither has Unix time
        raise ValueError("second")
    return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
