"""``flask import FILE --kind ledger|commissions|budget [--year 2025-26] [--sheet NAME] [--map FIELD=Heading]... [--commit]``.

The same pipeline as the web pages (tracker/imports/service.py): detection, the remembered or automatic
mapping, validation and preview; it prints the summary and every problem and writes only with --commit. With
--commit nobody reads a preview first, so every row is checked and written in one pass and one transaction
(``commit_in_one_pass``), which a row with a problem rolls back whole unless --leave-out-errors is given.
Exit status: 0 when the file is clean (and committed if asked), 1 when rows have problems, 2 when the file
cannot be imported at all. A nightly ledger load can run it from cron and alert on a non-zero status.
"""
from __future__ import annotations

import os

import click

from tracker.money import format_pence


def register_cli(cli) -> None:
    """Add ``flask import`` to ``cli`` (the app's command group; tracker/cli.py registers every command)."""
    @cli.command("import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--kind", type=click.Choice(["ledger", "commissions", "budget"]), default=None,
                  help="What the file is (guessed from the headings when left out).")
    @click.option("--year", default=None, help="Funding year, like 2025-26 (needed for a budget).")
    @click.option("--sheet", default=None, help="The sheet to read (found automatically when left out).")
    @click.option("--map", "column_map", multiple=True, metavar="FIELD=HEADING",
                  help='Choose the column for a field, e.g. --map "net=Amount Paid" (repeat for each field); '
                       "the field is its name or label, the heading as it is in the file.")
    @click.option("--commit", "do_commit", is_flag=True, help="Write the rows (otherwise only a preview).")
    @click.option("--leave-out-errors", is_flag=True,
                  help="With --commit, import the good rows and leave out the rows with problems.")
    @click.option("--confirm-over-budget", is_flag=True,
                  help="With --commit, import a commissions register that takes budget lines over their budgets "
                       "(the lines are listed; without this nothing is written).")
    def import_command(path, kind, year, sheet, column_map, do_commit, leave_out_errors, confirm_over_budget):
        """Check a spreadsheet and (with --commit) import it: the same steps as the Imports pages."""
        from tracker.extensions import db
        from tracker.imports import service

        service.fail_interrupted_batches()
        committed = False
        try:
            with open(path, "rb") as fh:
                draft = service.start_draft(fh, os.path.basename(path), kind=kind, year_label=year, sheet=sheet)
        except service.ImportRefused as exc:
            db.session.rollback()
            click.echo(f"Refused: {exc.message}", err=True)
            raise SystemExit(2)
        try:
            if column_map:
                errors = service.map_columns(draft, column_map)
                if errors:
                    for message in errors:
                        click.echo(f"Refused: --map {message}", err=True)
                    raise SystemExit(2)
            click.echo(f"{draft.filename}: {draft.kind_label}, sheet '{draft.sheet}', headings on row "
                       f"{draft.header_row}, {draft.mapping_source} mapping")
            for spec in draft.fields:
                col = draft.mapping.get(spec.name)
                click.echo(f"  {spec.label:<24} <- {draft.header_of(col) if col is not None else '(not in file)'}")
            if draft.missing_required:
                click.echo(f"Refused: no column chosen for {', '.join(draft.missing_required)}; map the columns "
                           "on the Imports page once and the mapping is remembered.", err=True)
                raise SystemExit(2)
            over_budget: list[str] = []
            if do_commit and draft.kind == "commissions":
                # The form's over-budget question, asked before anything is written (a register is small).
                over_budget = service.preview(draft).get("over_budget") or []
                if over_budget and not confirm_over_budget:
                    for warning in over_budget:
                        click.echo(f"Over budget: {warning}", err=True)
                    click.echo("Not imported: the register takes budget lines over their budgets; add "
                               "--confirm-over-budget to import it anyway.", err=True)
                    raise SystemExit(1)
            if do_commit:
                # One pass checks every row and writes it in one transaction: reading the file once, not twice. A
                # row with a problem rolls it all back (unless --leave-out-errors), so nothing is written.
                read: list = []

                def checked(found) -> None:
                    read.append(found)
                    _print_checked(vars(found))

                try:
                    batch = service.commit_in_one_pass(draft, leave_out=leave_out_errors, on_checked=checked)
                except service.ImportRefused as exc:
                    click.echo(f"Not imported: {exc.message}", err=True)
                    # Refused once every row was read (rows with problems, a clash): 1; the file itself: 2.
                    raise SystemExit(1 if read else 2)
                committed = True
                if over_budget:
                    service.record_over_budget(batch, over_budget)
                    db.session.commit()
                click.echo(f"Committed as import {batch.id}: {service._summary_line(batch)}")
                errors = batch.counts.get("error", 0)
            else:
                try:
                    p = service.preview(draft)
                except service.ImportRefused as exc:
                    click.echo(f"Refused: {exc.message}", err=True)
                    raise SystemExit(2)
                _print_checked(p)
                click.echo("Preview only: nothing written (add --commit to import).")
                errors = p["counts"]["error"]
            if errors:
                raise SystemExit(1)
        finally:
            if not committed:  # a committed draft's file is kept with its batch (the commit tidied the draft)
                service.discard_draft(draft)


def _print_checked(found: dict) -> None:
    """What the check of every row found (a preview's dict, or a pass's fields): counts, money, notes, problems."""
    from tracker.imports import service

    c = found["counts"]
    click.echo(f"Rows: {c['read']} read, {c['add']} to add, {c['changed']} changed, {c['unchanged']} "
               f"already present, {c['error']} with problems; {c['blank']} blank and {c['totals']} "
               "totals rows left out")
    click.echo(f"Money: {format_pence(found['file_pence'])} in the file, {format_pence(found['import_pence'])} "
               "to import")
    for note in found["notes"]:
        click.echo(f"  {note}")
    for warning in found.get("over_budget") or []:
        click.echo(f"Over budget: {warning}")
    for problem in found["problems"]:
        click.echo(f"Problem: {service.problem_text(problem)}")
    summary = found.get("summary") or {}
    for warning in summary.get("held_lines", []):
        # Not a problem: the line lands held, not counted on its contract until finance confirms it.
        click.echo(f"Held: {service.problem_text(warning)}")
