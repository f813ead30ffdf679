"""The Modal SDK's exceptions the stand-in raises (same names and bases)."""


class Error(Exception):
    pass


class AuthError(Error):
    pass


class NotFoundError(Error):
    pass


class InvalidError(Error):
    pass


class SandboxTerminatedError(Error):
    pass


class SandboxFilesystemError(Error):
    pass


class SandboxFilesystemNotFoundError(SandboxFilesystemError):
    pass
