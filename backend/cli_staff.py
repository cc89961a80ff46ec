"""``lanterne staff ...``: staff accounts and their API tokens, for operators."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from backend.extensions import db
from backend.models.staff import ROLES
from backend.services import staff as staff_service
from backend.services.catalogue import UnknownServiceError
from backend.services.staff import StaffError


@click.group("staff")
def staff_cli() -> None:
    """Staff accounts (agent, supervisor, analyst, admin) and their API tokens."""


def _read_password_stdin() -> str:
    # One line, without its newline: `printf '%s\n' "$PASSWORD" | lanterne staff create ...`.
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise click.ClickException("--password-stdin was given but standard input is empty.")
    return value


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, help=f"one of: {', '.join(ROLES)}")
@click.option("--department", default=None, help="a supervisor's department (e.g. roads)")
@click.option(
    "--service",
    "services",
    multiple=True,
    help="a service code an agent works on (repeat for several)",
)
@click.option(
    "--team",
    "team_code",
    default=None,
    help="the team the account belongs to (see /staff/admin/teams)",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="read the password from standard input instead of generating one",
)
@click.option(
    "--no-password",
    is_flag=True,
    help="no web login at all: the account will only use API tokens",
)
@with_appcontext
def create(
    email: str,
    role: str,
    department: str | None,
    services: tuple[str, ...],
    team_code: str | None,
    password_stdin: bool,
    no_password: bool,
) -> None:
    """Create a staff account; prints the generated password once (unless given on stdin)."""
    if role not in ROLES:
        raise click.ClickException(f"Unknown role {role!r}; the roles are: {', '.join(ROLES)}.")
    if role == "agent" and not services:
        raise click.ClickException("An agent works on services: give at least one --service.")
    if role == "supervisor" and not department:
        raise click.ClickException("A supervisor oversees a department: give --department.")
    if password_stdin and no_password:
        raise click.ClickException("--password-stdin and --no-password exclude each other.")
    generated = not (password_stdin or no_password)
    password: str | None = None
    if password_stdin:
        password = _read_password_stdin()
    elif generated:
        password = staff_service.generate_password()
    try:
        with db.new_session() as session:
            staff = staff_service.create_staff(
                session=session,
                email=email,
                role=role,
                password=password,
                service_codes=services,
                department=department,
                team_code=team_code,
                actor="cli",
            )
    except (StaffError, UnknownServiceError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {staff.role} {staff.email}.", err=True)
    if generated:
        click.echo("Password (shown once, give it over a safe channel):", err=True)
        click.echo(password)


@staff_cli.command("token")
@click.argument("email")
@click.option("--name", default="api", show_default=True, help="what the token is for")
@with_appcontext
def token(email: str, name: str) -> None:
    """Issue a bearer token for the staff API; prints it once (only its hash is kept)."""
    try:
        with db.new_session() as session:
            staff = staff_service.get_staff_by_email(session=session, email=email)
            if staff is None:
                raise StaffError(f"No staff account has the e-mail {email.strip().lower()!r}.")
            value = staff_service.issue_token(session=session, staff=staff, name=name, actor="cli")
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Token {name!r} for {staff.email} (shown once):", err=True)
    click.echo(value)


@staff_cli.command("revoke")
@click.argument("email")
@click.option("--name", default=None, help="only the tokens with this name (default: all)")
@with_appcontext
def revoke(email: str, name: str | None) -> None:
    """Revoke an account's tokens (all of them, or those called NAME)."""
    with db.new_session() as session:
        staff = staff_service.get_staff_by_email(session=session, email=email)
        if staff is None:
            raise click.ClickException(f"No staff account has the e-mail {email!r}.")
        count = staff_service.revoke_tokens(session=session, staff=staff, name=name, actor="cli")
    click.echo(f"{count} token(s) revoked for {staff.email}.")


@staff_cli.command("list")
@with_appcontext
def list_accounts() -> None:
    """List the accounts: e-mail, role, scope, active, last login, live tokens."""
    with db.new_session() as session:
        accounts = staff_service.list_staff(session=session)
        rows = []
        for staff in accounts:
            tokens = staff_service.list_tokens(session=session, staff=staff)
            live = sum(1 for t in tokens if t.revoked_at is None)
            scope = staff.department or ""
            if staff.service_codes:
                scope = (scope + " " if scope else "") + ",".join(staff.service_codes)
            last = staff.last_login_at.strftime("%Y-%m-%d %H:%M") if staff.last_login_at else "-"
            rows.append(
                (
                    staff.email,
                    staff.role,
                    scope or "-",
                    "active" if staff.active else "disabled",
                    last,
                    str(live),
                )
            )
    if not rows:
        click.echo("No staff accounts. Create one with: lanterne staff create EMAIL --role admin")
        return
    header = ("email", "role", "scope", "state", "last login (UTC)", "tokens")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


@staff_cli.command("disable")
@click.argument("email")
@with_appcontext
def disable(email: str) -> None:
    """Disable an account: no more logins, its tokens revoked, its sessions ended."""
    try:
        with db.new_session() as session:
            staff = staff_service.disable_staff(session=session, email=email, actor="cli")
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Disabled {staff.email}.")


@staff_cli.command("enable")
@click.argument("email")
@with_appcontext
def enable(email: str) -> None:
    """Enable a disabled account again (issue it new tokens: the old ones stay revoked)."""
    try:
        with db.new_session() as session:
            staff = staff_service.enable_staff(session=session, email=email, actor="cli")
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Enabled {staff.email}.")


@staff_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read it from standard input")
@with_appcontext
def set_password(email: str, password_stdin: bool) -> None:
    """Give an account a new password (generated unless read from stdin); ends its sessions."""
    password = _read_password_stdin() if password_stdin else staff_service.generate_password()
    try:
        with db.new_session() as session:
            staff = staff_service.get_staff_by_email(session=session, email=email)
            if staff is None:
                raise StaffError(f"No staff account has the e-mail {email.strip().lower()!r}.")
            staff_service.set_password(session=session, staff=staff, password=password)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"New password set for {staff.email}.", err=True)
    if not password_stdin:
        click.echo(password)
