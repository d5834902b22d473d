"""Image intervals in object storage: staged to a local folder, worked on there, written back.

In the cloud profile `vision.images` and `vision.quarantine` are prefixes in object storage
(s3://, gs://, az:// / abfs://; file:// works too, e.g. a mounted volume). Validation moves and
rewrites files, and training reads thousands of small images, so both work on a local copy:

    with staged_interval(settings, "2026-05-01") as (interval, quarantine):
        validate_interval(interval, quarantine, settings)   # local folders, as in the local profile
    # on success: the rewritten manifest and the images are mirrored back (quarantined images leave
    # the images prefix) and the quarantine folder is uploaded; on an error nothing is written back

    folders = cached_intervals(settings.images, cache_dir)   # every interval, downloaded once per manifest

Filesystems are pyarrow's (pyarrow.fs, with its S3, GCS and Azure clients; credentials come from
the workload's identity). az://<container>/<path> is read as abfs:// (pyarrow's Azure scheme) with
the storage account from $AZURE_STORAGE_ACCOUNT_NAME.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs

from .manifests import LABELS, MANIFEST
from .settings import VisionSettings

REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://", "abfss://", "file://")
CACHE_MARKER = ".manifest.sha256"  # in a cached interval: the digest of the manifest it was copied with


class StorageError(RuntimeError):
    """An interval could not be read from or written to object storage; the message names the URI."""


def is_remote(location: str) -> bool:
    """True for an object-storage (or file://) URI, False for a plain local path."""
    return location.startswith(REMOTE_SCHEMES)


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem and the path inside it for `uri`."""
    if uri.startswith("az://"):
        account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME", "")
        if not account:
            raise StorageError(f"{uri}: set AZURE_STORAGE_ACCOUNT_NAME to the storage account of the container")
        return pafs.AzureFileSystem(account_name=account), uri.removeprefix("az://")
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
    except (OSError, ValueError) as error:
        raise StorageError(f"cannot open {uri}: {error}") from error
    return fs, path


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *(part.strip("/") for part in parts if part)])


def download(uri: str, target: Path) -> Path:
    """Copy the prefix `uri` (recursively) into the local folder `target`; a missing prefix is an error."""
    fs, path = filesystem(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.Directory:
        raise StorageError(f"{uri} is not a folder in object storage (found: {str(info.type.name).lower()})")
    target.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(path, str(target), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
    return target


def mirror(local: Path, uri: str) -> None:
    """Make the prefix `uri` hold exactly the files of the local folder `local`: upload every local
    file, delete the remote files that are no longer there (an image moved to quarantine)."""
    fs, path = filesystem(uri)
    wanted = {file.relative_to(local).as_posix() for file in local.rglob("*") if file.is_file()}
    if fs.get_file_info(path).type == pafs.FileType.Directory:
        for info in fs.get_file_info(pafs.FileSelector(path, recursive=True)):
            relative = info.path[len(path.rstrip("/")) + 1 :]
            if info.type == pafs.FileType.File and relative not in wanted:
                fs.delete_file(info.path)
    fs.create_dir(path, recursive=True)
    pafs.copy_files(str(local), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)


@contextmanager
def staged_interval(settings: VisionSettings, key: str) -> Iterator[tuple[Path, Path]]:
    """(local interval folder, local quarantine root) for interval `key`, as validate_interval takes them.

    Local settings yield the configured folders themselves. Remote ones are downloaded into a scratch
    folder; when the block succeeds the interval is mirrored back and its quarantine uploaded."""
    if not is_remote(settings.images):
        yield settings.images_dir / key, settings.quarantine_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"vision-{key}-"))
    try:
        interval = download(_join(settings.images, key), scratch / "images" / key)
        quarantine = scratch / "quarantine"
        yield interval, quarantine
        mirror(interval, _join(settings.images, key))
        if (quarantine / key).is_dir():
            mirror(quarantine / key, _join(settings.quarantine, key))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _manifest_digest(fs: pafs.FileSystem, folder: str) -> str | None:
    for name in (LABELS, MANIFEST):
        candidate = _join(folder, name)
        if fs.get_file_info(candidate).type == pafs.FileType.File:
            with fs.open_input_stream(candidate) as stream:
                return hashlib.sha256(stream.read()).hexdigest()
    return None


def cached_intervals(uri: str, cache: Path) -> list[Path]:
    """Local copies of every interval under the prefix `uri` that holds a manifest, in key order.

    An interval is downloaded again only when its manifest changed (validation rewrites it), so a
    training run after the next ETL run fetches the new interval only."""
    fs, root = filesystem(uri)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        raise StorageError(f"{uri} holds no image intervals (not a folder in object storage)")
    folders: list[Path] = []
    for info in sorted(fs.get_file_info(pafs.FileSelector(root)), key=lambda item: item.base_name):
        if info.type != pafs.FileType.Directory:
            continue
        digest = _manifest_digest(fs, info.path)
        if digest is None:
            continue
        local = cache / info.base_name
        marker = local / CACHE_MARKER
        if not (marker.is_file() and marker.read_text(encoding="utf-8") == digest):
            shutil.rmtree(local, ignore_errors=True)
            download(_join(uri, info.base_name), local)
            marker.write_text(digest, encoding="utf-8")
        folders.append(local)
    return folders
