"""Catalogue import pages (R12.1): upload CSV files or an XLSX workbook, read the preview (per
sheet what would be created, updated or left unchanged, and every error with its sheet, row
and column), then apply it — all of it or nothing.

Between preview and apply the uploaded bytes wait server-side in a short-lived store under a
random token bound to the staff account and the city (nobody else can apply them, nor can
they be applied to another city); apply previews again inside its own transaction, so a file
with errors, or one the city has since outgrown, is never written.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import DomainError, ValidationFailed
from guahao.core.importing import SHEETS, ImportFile, ImportPlan, Limits, apply, preview

from ..kit.pages import Console, console_page

KEEP_SECONDS = 30 * 60
LIMITS = Limits()


class UploadStore:
    """Uploaded files kept for ``KEEP_SECONDS`` under ``root/<token>/``, owned by one staff
    account of one city. Expired uploads are removed whenever a new one is saved.

    Parameters:
        root: the folder (``Settings.import_path``: with several web servers, a folder they
            share, so the apply may reach another server than the preview).
    """

    def __init__(self, root: Path):
        self.root = root

    def save(self, files: list[ImportFile], *, owner: str, city_id: int) -> str:
        self.purge()
        token = secrets.token_urlsafe(24)
        folder = self.root / token
        folder.mkdir(parents=True, mode=0o700)
        names = []
        for i, f in enumerate(files):
            (folder / f"{i}.bin").write_bytes(f.data)
            names.append(f.name)
        meta = {"owner": owner, "city_id": city_id, "until": time.time() + KEEP_SECONDS, "names": names}
        (folder / "meta.json").write_text(json.dumps(meta))
        return token

    def _folder(self, token: str) -> Path | None:
        if not token or not token.replace("-", "").replace("_", "").isalnum() or len(token) > 64:
            return None
        folder = self.root / token
        return folder if (folder / "meta.json").is_file() else None

    def load(self, token: str, *, owner: str, city_id: int) -> list[ImportFile]:
        """The files under ``token`` if this owner saved them for this city and they are
        still kept; otherwise 404 ``import_upload_gone``."""
        folder = self._folder(token)
        meta = json.loads((folder / "meta.json").read_text()) if folder else None
        if not meta or meta.get("owner") != owner or meta.get("city_id") != city_id or meta["until"] < time.time():
            raise DomainError("import_upload_gone", "上传的文件已过期或不存在，请重新上传 / the upload has expired or does "
                              "not exist: upload the files again", status=404)
        return [ImportFile(name, (folder / f"{i}.bin").read_bytes()) for i, name in enumerate(meta["names"])]

    def discard(self, token: str) -> None:
        folder = self._folder(token)
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    def purge(self) -> None:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            try:
                until = json.loads((folder / "meta.json").read_text())["until"]
            except (OSError, ValueError, KeyError):
                until = 0
            if until < time.time():
                shutil.rmtree(folder, ignore_errors=True)


def _store(c: Console) -> UploadStore:
    return UploadStore(c.rt.settings.import_path)


def _owner(c: Console) -> str:
    return f"{c.principal.kind}:{c.principal.id}"


async def _uploaded(c: Console) -> list[ImportFile]:
    form = await c.request.form()  # parsed (and cached) by the page wrapper
    files = []
    for value in form.getlist("files"):
        if isinstance(value, UploadFile) and value.filename:
            files.append(ImportFile(Path(value.filename).name, await value.read(LIMITS.file_bytes + 1)))
    return files


def _render_plan(c: Console, plan: ImportPlan, token: str | None, status: int = 200) -> Response:
    return c.render("importing/preview.html", status=status, plan=plan, token=token, zh=c.lang == "zh-CN")


@console_page("import.run")
async def upload(c: Console) -> Response:
    return c.render("importing/upload.html", sheets=SHEETS, limits=LIMITS)


@console_page("import.run")
async def preview_page(c: Console) -> Response:
    files = await _uploaded(c)
    async with c.transaction() as s:
        plan = await preview(s, files, limits=LIMITS)
    token = _store(c).save(files, owner=_owner(c), city_id=c.city.id) if plan.ok and files else None
    return _render_plan(c, plan, token, status=200 if plan.ok else 422)


@console_page("import.run")
async def apply_page(c: Console) -> Response:
    token = c.form.get("token", "")
    files = _store(c).load(token, owner=_owner(c), city_id=c.city.id)
    try:
        async with c.transaction() as s:
            plan = await preview(s, files, limits=LIMITS)
            if not plan.ok:
                raise ValidationFailed("import_has_errors", "文件有错误，未导入任何数据 / the files have errors")
            counts = await apply(s, plan, c.actor())
    except ValidationFailed as exc:
        if exc.code not in ("import_has_errors", "import_stale"):
            raise
        async with c.transaction() as s:
            plan = await preview(s, files, limits=LIMITS)
        return _render_plan(c, plan, None, status=exc.status)
    _store(c).discard(token)
    return c.render("importing/result.html", plan=plan, counts=counts)


def routes() -> list:
    return [
        Route("/c/{city}/import", upload, methods=["GET"]),
        Route("/c/{city}/import/preview", preview_page, methods=["POST"]),
        Route("/c/{city}/import/apply", apply_page, methods=["POST"]),
    ]
