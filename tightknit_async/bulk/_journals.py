"""One way in to every journal backend: a path is a SQLite journal, a ``postgresql://`` URL a
PostgreSQL one.

::

    from tightknit_async.journal import open_journal

    async with open_journal(spec, owner=api_key) as journal:   # a path, or postgresql://...
        await run_bulk(rows, fn, job="crm-sync", journal=journal)

The command line passes its ``--journal`` through :func:`journal_spec` (argparse ``type=``: a
URL kept as text, a path as a :class:`~pathlib.Path`), then to :func:`open_journal`, and shows it
with :func:`describe_journal` (never the password).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from ..idempotency import DEFAULT_REPLAY_TTL
from ._journal import Journal
from ._journal_postgres import (
    DEFAULT_LEASE,
    PostgresJournal,
    _url_of,
    is_postgres_url,
    redact_url,
)

__all__ = ["describe_journal", "is_postgres_url", "journal_spec", "open_journal"]


def open_journal(
    spec: str | os.PathLike[str],
    *,
    replay_window: float = DEFAULT_REPLAY_TTL,
    clock: Callable[[], float] = time.time,
    redact: Iterable[str] = (),
    owner: str | None = None,
    synchronous: Literal["NORMAL", "FULL"] | None = None,
    lease: float | None = None,
) -> Journal:
    """The journal ``spec`` names, not yet opened (open it with ``async with``).

    ``postgresql://...`` or ``postgres://...`` (also after a trip through :class:`~pathlib.Path`,
    which folds ``//`` into ``/``): a :class:`~tightknit_async.journal.PostgresJournal`, shared
    by the workers of a job (needs the ``postgres`` extra). Anything else: the SQLite file at
    that path, a :class:`~tightknit_async.journal.Journal`.

    ``replay_window``, ``clock``, ``redact`` and ``owner`` are common to both;
    ``synchronous`` is SQLite's (default ``NORMAL``), ``lease`` PostgreSQL's (default 30 s).

    Raises:
        ValueError: an option of the other backend, or a bad value.
    """
    if is_postgres_url(spec):
        if synchronous is not None:
            raise ValueError("synchronous= is an option of the SQLite journal, not PostgreSQL's")
        return PostgresJournal(
            spec,
            replay_window=replay_window,
            clock=clock,
            redact=redact,
            owner=owner,
            lease=DEFAULT_LEASE if lease is None else lease,
        )
    if lease is not None:
        raise ValueError("lease= is an option of the PostgreSQL journal, not SQLite's")
    return Journal(
        spec,
        replay_window=replay_window,
        clock=clock,
        synchronous=synchronous or "NORMAL",
        redact=redact,
        owner=owner,
    )


def journal_spec(text: str) -> str | Path:
    """An argparse ``type=`` for ``--journal``: a ``postgresql://`` URL stays text (a
    :class:`~pathlib.Path` would fold its ``//``), anything else is a path."""
    return text if is_postgres_url(text) else Path(text)


def describe_journal(spec: str | os.PathLike[str]) -> str:
    """``spec`` for people to read: a URL without its password, a path as it is."""
    if is_postgres_url(spec):
        return redact_url(_url_of(spec))
    return os.fspath(spec)
