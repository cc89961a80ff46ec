"""``lanterne apikey``: keys for Open311 clients (created shown once, stored hashed)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.extensions import db
from backend.services import apikeys


@click.group("apikey")
def apikey_group() -> None:
    """API keys of Open311 clients."""


@apikey_group.command("create")
@click.argument("name")
@click.option(
    "--rate-limit",
    default=apikeys.DEFAULT_RATE_LIMIT,
    show_default=True,
    help="requests allowed for this key, e.g. '100/minute' or '1000 per hour;20 per second'",
)
@click.option(
    "--allow-updates",
    is_flag=True,
    help="let this key post status updates (servicerequestupdates): back-office systems only",
)
@with_appcontext
def create(name: str, rate_limit: str, allow_updates: bool) -> None:
    """Create a key for the client NAME and print it (the only time it is shown)."""
    with db.new_session() as session:
        try:
            key, plain = apikeys.create_key(
                session=session, name=name, rate_limit=rate_limit, can_post_updates=allow_updates
            )
        except apikeys.ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(plain)
    click.echo(
        f"Key '{key.name}' created ({key.rate_limit}"
        + (", may post updates" if key.can_post_updates else "")
        + "). Store it now: it is kept only hashed and cannot be shown again.",
        err=True,
    )


@apikey_group.command("list")
@with_appcontext
def list_() -> None:
    """List the keys: name, prefix, rate limit, state."""
    with db.new_session() as session:
        keys = apikeys.list_keys(session=session)
    if not keys:
        click.echo("No API keys. Create one with `lanterne apikey create NAME`.")
        return
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        updates = " updates" if key.can_post_updates else ""
        click.echo(
            f"{key.name}\t{key.prefix}…\t{key.rate_limit}\t{state}{updates}\t"
            f"created {key.created_at:%Y-%m-%d}"
        )


@apikey_group.command("revoke")
@click.argument("name")
@with_appcontext
def revoke(name: str) -> None:
    """Revoke the key of the client NAME (requests with it get 403 from now on)."""
    with db.new_session() as session:
        try:
            key = apikeys.revoke_key(session=session, name=name)
        except apikeys.ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Key '{key.name}' revoked.")
