"""``siyu qr add|list``: the live-code registry (活码) from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.settings import Settings

__all__ = ["qr_app"]

qr_app = typer.Typer(no_args_is_help=True, help="Live QR codes (活码): the registry file.")


@qr_app.command("add")
def add(
    code_id: Annotated[str, typer.Argument(help="the code id (WeCom State, qrscene id, qr_id)")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    channel: Annotated[str, typer.Option(help="channel, e.g. moments_poster")] = "",
    material: Annotated[str, typer.Option(help="material id")] = "",
    campaign: Annotated[str, typer.Option()] = "",
    staff: Annotated[str, typer.Option(help="staff owner (WeCom user id)")] = "",
    kind: Annotated[str, typer.Option(help="live (活码) or static (死码)")] = "live",
) -> None:
    """Add a code to the registry (or update one); workers and the sink pick it up."""
    from streams.domain.qr_codes import KINDS, QrCode
    from streams.qr_registry import add_code, registry_path

    if kind not in KINDS or not code_id.strip():
        typer.echo("siyu qr add: needs a code id and --kind live or static", err=True)
        raise typer.Exit(2)
    path = registry_path(Settings().tags.file)
    code = QrCode(
        id=code_id.strip(),
        name=name,
        channel=channel,
        material=material,
        campaign=campaign,
        staff=staff,
        kind=kind,  # type: ignore[arg-type]
    )
    codes = add_code(path, code)
    typer.echo(f"{code.id} saved in {path} ({len(codes)} codes)")


@qr_app.command("list")
def list_codes() -> None:
    """Print the registry: id, kind, name, channel, material, campaign, staff."""
    from streams.qr_registry import read_codes, registry_path

    path = registry_path(Settings().tags.file)
    codes = read_codes(path)
    typer.echo(f"# {path}: {len(codes)} codes")
    typer.echo("id\tkind\tname\tchannel\tmaterial\tcampaign\tstaff")
    for c in sorted(codes.values(), key=lambda c: c.id):
        typer.echo("\t".join((c.id, c.kind, c.name, c.channel, c.material, c.campaign, c.staff)))
