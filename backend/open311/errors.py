"""The one error of the Open311 package: the spec's status and descriptions."""

from __future__ import annotations


class Open311Error(Exception):
    """An error the spec's way: an HTTP status and one or more human descriptions."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions) or ["error"]
