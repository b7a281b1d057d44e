"""Unpacking archives of submissions without trusting them.

An LMS download is a zip of what students uploaded, and students upload archives too. Anything in
there may be hostile: members named `../../x`, absolute paths, symlinks, a "zip" that is not one,
a few kilobytes that inflate to gigabytes, archives nested a hundred deep, file names that are not
UTF-8, hundreds of characters long or full of control characters. `unpack` extracts zip and tar
archives, nested ones included, with limits on the total size, the number of files and the depth.
Files are written under short generated names (the original name is kept beside, as text), so no
file name can reach outside the target or exceed a file system's limits. What cannot be unpacked
is returned as a problem for that one archive; the rest goes on.
"""
import bz2
import gzip
import lzma
import stat
import tarfile
from contextlib import contextmanager
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_TOTAL_BYTES = 256 * 2 ** 20           # everything extracted, all levels together
MAX_FILES = 20_000
MAX_DEPTH = 4                             # archives inside archives
CHUNK = 2 ** 20


@dataclass
class Unpacked:
    """One file that came out of the archives: its path on disk and the name it had inside."""
    path: Path
    name: str                              # e.g. "dave.zip/a1_neuron_dave_attempt_..._a1_neuron.ipynb"


class Budget:
    """What is left of the size and file-count limits for one unpacking."""

    def __init__(self):
        self.bytes, self.files = MAX_TOTAL_BYTES, MAX_FILES

    def take(self, size, files=1):
        """Reserve room for `files` files of `size` bytes in all, before any of them is written."""
        self.files -= files
        self.bytes -= size
        if self.files < 0 or self.bytes < 0:
            raise ValueError("the archives unpack to more than the limit "
                             f"({MAX_TOTAL_BYTES // 2 ** 20} MB, {MAX_FILES} files): refused as a possible archive bomb")


def is_archive(path):
    name = path.name.lower()
    return name.endswith((".zip", ".tar", ".tar.gz", ".tgz"))


def safe_member_name(name):
    """The member's path if it stays inside the archive's folder, else None."""
    parts = PurePosixPath(str(name).replace("\\", "/")).parts
    if not parts or parts[0] == "/" or any(p in ("..", "") for p in parts):
        return None
    return "/".join(parts)


def unpack(archive, target, label=None, budget=None, depth=0):
    """Extract `archive` (and archives inside it) into `target`. Returns ([Unpacked], [(name, reason)])."""
    budget = budget or Budget()
    label = label or Path(archive).name
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    files, problems = [], []
    try:
        _verify_stream(Path(archive))
        members = list(_members(Path(archive), target, budget))
    except Exception as exc:                     # zlib, lzma, bz2, zipfile, tarfile: each has its own errors
        return [], [(label, f"cannot be unpacked ({type(exc).__name__}: {str(exc)[:200]})")]
    for name, path, refused in members:
        inner = f"{label}/{name}"
        if refused:
            problems.append((inner, refused))
        elif is_archive(PurePosixPath(name)):
            if depth + 1 >= MAX_DEPTH:
                problems.append((inner, f"archives nested more than {MAX_DEPTH} deep are not unpacked"))
                continue
            more, trouble = unpack(path, path.with_suffix(".d"), inner, budget, depth + 1)
            path.unlink()
            files += more
            problems += trouble
        else:
            files.append(Unpacked(path, inner))
    return files, problems


def _members(archive, target, budget):
    """(name, extracted path or None, reason refused or None) for each file of the archive.

    The sizes the archive declares are reserved from the budget before anything is written, and
    no member is copied past its declared size.
    """
    with _open_archive(archive) as (listing, open_member):
        checked = [(raw, safe_member_name(raw), refused, size, member) for raw, refused, size, member in listing]
        wanted = [size for _, name, refused, size, _ in checked if name is not None and refused is None]
        budget.take(sum(wanted), len(wanted))
        for k, (raw, name, refused, size, member) in enumerate(checked):
            if name is None:
                yield raw, None, "a path outside the archive: not extracted"
            elif refused is not None:
                yield name, None, refused
            else:
                path = target / f"{k:05d}{_suffix(name)}"
                try:
                    with open_member(member) as src, open(path, "wb") as dst:
                        _copy(src, dst, size)
                except Exception as exc:         # a corrupt member (bad CRC, broken deflate data): this one only
                    path.unlink(missing_ok=True)
                    yield name, None, f"cannot be unpacked ({type(exc).__name__}: {str(exc)[:160]})"
                    continue
                yield name, path, None


def _verify_stream(archive):
    """Read a compressed tar archive's whole stream once, so that a bad checksum refuses it before anything
    is extracted (tarfile reads only as far as the members need, and never checks the gzip CRC)."""
    with open(archive, "rb") as f:
        magic = f.read(6)
    opener = {b"\x1f\x8b": gzip.open, b"BZ": bz2.open, b"\xfd7zXZ": lzma.open}
    for prefix, open_compressed in opener.items():
        if magic.startswith(prefix):
            with open_compressed(archive, "rb") as stream:
                total = 0
                while chunk := stream.read(CHUNK):
                    total += len(chunk)
                    if total > MAX_TOTAL_BYTES:
                        raise ValueError("the archive unpacks to more than the limit: refused as a possible archive bomb")
            return


@contextmanager
def _open_archive(archive):
    """([(name, reason it is refused or None, declared size, member)], open_member) of a zip or tar archive."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield ([(i.filename, "a symbolic link: not extracted" if stat.S_ISLNK(i.external_attr >> 16) else None,
                     i.file_size, i) for i in zf.infolist() if not i.is_dir()], zf.open)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            yield ([(i.name, None if i.isfile() else "not a regular file (a link or a device): not extracted",
                     i.size, i) for i in tf.getmembers() if not i.isdir()], tf.extractfile)
    else:
        raise ValueError("not a zip or tar archive")


def _copy(src, dst, declared):
    """Copy at most `declared` bytes (what the budget allowed); a member that inflates further is cut off."""
    left = declared
    while left > 0:
        chunk = src.read(min(CHUNK, left))
        if not chunk:
            break
        dst.write(chunk)
        left -= len(chunk)
    if src.read(1):
        raise ValueError("a member is larger than its archive says")


def _suffix(name):
    """The file type of a member for its generated name: .ipynb, .zip, .tar.gz, ... (nothing else kept)."""
    lower = name.lower()
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".ipynb"):
        if lower.endswith(suffix):
            return suffix
    return ".file"
