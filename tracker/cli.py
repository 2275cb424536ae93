"""Every `flask` command is registered here: `create-user` and `seed-demo` (defined below), and each area's own
(`import`, `imports-sweep`, `worker`, `export-return`, `deadlines-digest`, `deadlines-sync`, `backup`, `restore`)."""
from __future__ import annotations

import os

import click
from flask import Flask
from sqlalchemy import select

from tracker.auth.passwords import hash_password, password_problem
from tracker.extensions import db
from tracker.models import ROLES, User


def init_app(app: Flask) -> None:
    from tracker import backup
    from tracker.imports import jobs, sweep
    from tracker.imports.cli import register_cli
    from tracker.milestones.cli import digest_command, sync_command
    from tracker.returns.routes import export_return_command

    for command in (export_return_command, digest_command, sync_command):
        app.cli.add_command(command)
    register_cli(app.cli)
    sweep.register_cli(app.cli)
    jobs.register_cli(app.cli)
    backup.init_app(app)

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do.")
    @click.option("--name", default="", help="Their name as shown on screens (defaults to the e-mail).")
    def create_user(email: str, role: str, name: str):
        """Add a user, or reset an existing user's password and role. The password is asked for, or read
        from the environment variable TRACKER_PASSWORD for scripts."""
        email = email.strip().lower()
        if "@" not in email:
            raise click.BadParameter("must be an e-mail address", param_hint="EMAIL")
        password = os.environ.get("TRACKER_PASSWORD") or click.prompt("Password", hide_input=True, confirmation_prompt=True)
        problem = password_problem(password, email, name)
        if problem:
            raise click.ClickException(f"Password not accepted: {problem}.")
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name or email, role=role, password_hash=hash_password(password))
            db.session.add(user)
            action = "Created"
        else:
            user.role = role
            user.name = name or user.name
            user.password_hash = hash_password(password)
            user.session_version += 1
            user.active = True
            from tracker.auth.sessions import end_all

            end_all(user.id, "password reset")
            action = "Updated"
        from tracker import audit

        audit.record("admin", "create" if action == "Created" else "change", user,
                     f"{action} user {email} with role {role} from the command line", after={"role": role})
        db.session.commit()
        click.echo(f"{action} {email} ({role}).")

    @app.cli.command("seed-demo")
    @click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                  help="Build the demo as if today were this day (YYYY-MM-DD); the real date by default.")
    def seed_demo_command(today):
        """Load the fictional demo and one user per role: the year containing today open, last year closed with its
        Q4 return issued, next year a draft rolled over from this one. Safe to run again."""
        from tracker.demo import seed_demo

        made = seed_demo(today.date() if today else None)
        if made:
            click.echo("Demo sign-ins (passwords are shown only this once):")
            for email, role, password in made:
                click.echo(f"  {role:8} {email:24} {password}")
        else:
            click.echo("Demo data is in place. Demo users already exist; reset a password with "
                       "`flask create-user EMAIL --role ROLE`.")
