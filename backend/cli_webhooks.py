"""``lanterne webhooks``: the subscriber systems that receive signed POSTs of each update."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.extensions import db
from backend.services import notifications


@click.group("webhooks")
def webhooks_group() -> None:
    """Webhook endpoints (a city's SMS or push provider); see docs/notifications.md."""


@webhooks_group.command("add")
@click.argument("url")
@click.option("--description", default="", help="what this endpoint is (shown by `list`)")
@with_appcontext
def add(url: str, description: str) -> None:
    """Register URL; print its signing secret (give it to the receiver; shown once)."""
    with db.new_session() as session:
        try:
            endpoint = notifications.add_endpoint(session=session, url=url, description=description)
        except notifications.WebhookError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(endpoint.secret)
    click.echo(
        f"Webhook {endpoint.id} added for {endpoint.url}. The line above is its signing "
        "secret: the receiver checks X-Lanterne-Signature with it.",
        err=True,
    )


@webhooks_group.command("list")
@with_appcontext
def list_() -> None:
    """List the endpoints: id, state, URL, description."""
    with db.new_session() as session:
        endpoints = notifications.list_endpoints(session=session)
    if not endpoints:
        click.echo("No webhook endpoints. Add one with `lanterne webhooks add URL`.")
        return
    for e in endpoints:
        state = "active" if e.active else f"disabled {e.disabled_at:%Y-%m-%d}"
        click.echo(f"{e.id}\t{state}\t{e.url}\t{e.description}")


@webhooks_group.command("disable")
@click.argument("endpoint_id", type=int)
@with_appcontext
def disable(endpoint_id: int) -> None:
    """Stop sending to the endpoint ENDPOINT_ID (deliveries not yet made are dropped)."""
    with db.new_session() as session:
        try:
            endpoint = notifications.disable_endpoint(session=session, endpoint_id=endpoint_id)
        except notifications.WebhookError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Webhook {endpoint.id} ({endpoint.url}) disabled.")
