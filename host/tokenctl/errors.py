"""One exception hierarchy for the host side, each with its documented exit code.

The CLI maps these to exit codes in one place (cli/main.py); library users catch them by type.
Messages are for people and never contain secrets.
"""

# Exit codes (documented in README.md). 2 is click's usage error.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NO_DEVICE = 3
EXIT_DEVICE_ERROR = 4
EXIT_AUTH = 5
EXIT_NOT_FOUND = 6
EXIT_TIMEOUT = 7
EXIT_INPUT = 8
# A push sign-in that was not approved (tokenctl push send; approved is EXIT_OK).
EXIT_PUSH_DENIED = 10
EXIT_PUSH_WRONG_NUMBER = 11
EXIT_PUSH_REPORTED = 12
EXIT_PUSH_TIMEOUT = 13
EXIT_PUSH_RATE_LIMITED = 14
EXIT_PUSH_REJECTED = 15


class TokenError(Exception):
    """Base of every error the host tools raise on purpose."""

    exit_code = EXIT_ERROR


class InputError(TokenError):
    """The user's input is wrong (a malformed URI, bad base32, an unknown option value)."""

    exit_code = EXIT_INPUT


class TransportError(TokenError):
    """No device on the port, or the port failed."""

    exit_code = EXIT_NO_DEVICE


class DeviceTimeout(TransportError):
    """The device stopped answering."""

    exit_code = EXIT_TIMEOUT


class DeviceError(TokenError):
    """The device answered with an error code (see docs/protocol.md)."""

    exit_code = EXIT_DEVICE_ERROR

    def __init__(self, code: str, message: str, **details):
        super().__init__(message)
        self.code = code
        self.details = details


class NotFoundError(DeviceError):
    exit_code = EXIT_NOT_FOUND


class AuthError(DeviceError):
    """The device is locked, or the PIN was wrong; `tries_left` when the device said."""

    exit_code = EXIT_AUTH

    @property
    def tries_left(self):
        return self.details.get("tries_left")


class PushNotApproved(TokenError):
    """A push challenge ended in anything but a verified approval."""

    exit_code = EXIT_PUSH_REJECTED


class PushDenied(PushNotApproved):
    exit_code = EXIT_PUSH_DENIED


class PushWrongNumber(PushNotApproved):
    """The user picked a number other than the one shown on the sign-in screen."""

    exit_code = EXIT_PUSH_WRONG_NUMBER


class PushReported(PushNotApproved):
    """The user denied and reported the sign-in as fraud."""

    exit_code = EXIT_PUSH_REPORTED


class PushTimeout(PushNotApproved):
    """No pick on the token in time, or no answer reached us in time."""

    exit_code = EXIT_PUSH_TIMEOUT


class PushRateLimited(PushNotApproved):
    """The token paused prompts for this account (MFA-fatigue protection)."""

    exit_code = EXIT_PUSH_RATE_LIMITED


class PushRejected(PushNotApproved):
    """The token refused the challenge, or its answer failed verification."""

    exit_code = EXIT_PUSH_REJECTED
