"""Device time, in integer Unix seconds, straight from the RTC.

Never time.time(): its epoch differs between ports and it is not battery-backed. Sync
bookkeeping (when, from whom) belongs to the caller; this only reads and sets the chip.
"""


class Clock:
    def __init__(self, rtc):
        self.rtc = rtc

    def now(self):
        return self.rtc.unix()

    def trusted(self):
        """False if the RTC lost power since it was last set: its time means nothing."""
        return not self.rtc.lost_power()

    def set(self, unix):
        """Set the RTC; returns the correction applied in seconds (new - old)."""
        old = self.rtc.unix()
        self.rtc.set_unix(unix)
        return unix - old
