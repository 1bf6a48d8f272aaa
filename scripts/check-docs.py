#!/usr/bin/env python3
"""Checks the links in the documentation.

Reads every Markdown file in the repository root and in docs/ that git
tracks or would track (README.md, BENCHMARKS.md, docs/*.md, ...), or the
files named on the command line. Every relative link must name a file or
directory of the repository, and a `#anchor` must match a heading of the
target Markdown file, using GitHub's rules: lowercase, punctuation other
than '-' and '_' dropped, each space a '-', and repeated headings suffixed
-1, -2, ... Absolute http(s) links are not fetched, only checked to be
well-formed. Links in code blocks, code spans and HTML comments are not
links and are skipped.

Prints every broken link as FILE:LINE: message and exits 1; on success
prints a one-line summary and exits 0. Standard library only.

    scripts/check-docs.py [FILE.md ...]
"""

import difflib
import ipaddress
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN_SUFFIXES = (".md", ".markdown")


# --- Which files ------------------------------------------------------------


def repository_files():
    """Files git tracks or would track (not ignored), relative to ROOT, or
    None when git cannot say (no git, or not a checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}


def documents(known):
    """The Markdown files to check: in the root and under docs/."""
    if known is not None:
        candidates = [
            p for p in known if "/" not in p or p.startswith("docs/")
        ]
    else:
        candidates = [p.name for p in ROOT.glob("*")]
        candidates += [
            p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*")
        ]
    return sorted(
        p
        for p in candidates
        if p.lower().endswith(MARKDOWN_SUFFIXES) and (ROOT / p).is_file()
    )


def exists_exactly(relative):
    """Whether ROOT/relative exists with exactly this spelling (GitHub is
    case-sensitive even where the local file system is not)."""
    here = ROOT
    for part in Path(relative).parts:
        try:
            if part not in os.listdir(here):
                return False
        except OSError:
            return False
        here = here / part
    return True


# --- Reading Markdown -------------------------------------------------------

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
REF_DEF = re.compile(r"^ {0,3}\[([^\]]+)\]:[ \t]*(<[^>]*>|\S+)")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
HTML_LINK = re.compile(r"""<(?:a|img)\s[^>]*\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*)>")
BARE_URL = re.compile(r"(?<![\w/:.@-])https?://[^\s<>\[\]`]+", re.I)
LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")


def strip_fences(lines):
    """The lines with fenced code blocks blanked, line numbers kept."""
    out, fence = [], None
    for line in lines:
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                out.append("")
                continue
            out.append(line)
        else:
            if (
                match
                and match.group(1)[0] == fence[0]
                and len(match.group(1)) >= len(fence)
                and not line.strip().strip(fence[0])
            ):
                fence = None
            out.append("")
    return out


def blank_comments(text):
    """HTML comments replaced by spaces, newlines kept."""
    return re.sub(
        r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S
    )


def mask_code_spans(text):
    """Backslash escapes and code spans replaced by filler of the same
    length, so that nothing inside them reads as a link. Code spans do not
    cross a blank line."""
    text = re.sub(r"\\[!-/:-@\[-`{-~]", "\x00\x00", text)
    out, i = [], 0
    for match in re.finditer(r"`+", text):
        if match.start() < i:
            continue
        run = match.group(0)
        closing = re.compile(r"(?<!`)" + run + r"(?!`)")
        end = closing.search(text, match.end())
        if end is None or "\n\n" in text[match.end():end.start()].replace(" ", ""):
            continue
        out.append(text[i:match.start()])
        out.append(re.sub(r"[^\n]", "\x00", text[match.start():end.end()]))
        i = end.end()
    out.append(text[i:])
    return "".join(out)


def heading_text(raw):
    """The text a heading renders as, roughly: markup dropped."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", raw)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"\\(.)", r"\1", text)
    return text.replace("`", "").replace("*", "")


def github_slug(text):
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path, cache={}):
    """The anchors a Markdown file defines: its headings' slugs, and ids of
    HTML anchors."""
    if path in cache:
        return cache[path]
    text = (ROOT / path).read_text(encoding="utf-8")
    lines = blank_comments("\n".join(strip_fences(text.splitlines()))).split("\n")
    found, seen = set(), {}

    def add(title):
        slug = original = github_slug(heading_text(title))
        while slug in seen:
            seen[original] += 1
            slug = "%s-%d" % (original, seen[original])
        seen[slug] = 0
        found.add(slug)

    previous = ""
    for line in lines:
        atx = ATX.match(line)
        setext = SETEXT.match(line)
        if atx:
            add(re.sub(r"[ \t]+#+[ \t]*$", "", atx.group(2) or ""))
            previous = ""
            continue
        if (
            setext
            and previous.strip()
            and not LIST_ITEM.match(previous)
            and not previous.lstrip().startswith(("|", ">"))
        ):
            add(previous.strip())
            previous = ""
            continue
        found.update(m.group(1) for m in HTML_ANCHOR.finditer(line))
        previous = line
    cache[path] = found
    return found


def matching_bracket(text, start):
    """The index of the ']' closing the '[' at start, or -1."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i
        elif c == "\n" and text.startswith("\n", i + 1):
            return -1
    return -1


def inline_destination(text, start):
    """Parses '(dest "title")' at start; returns (dest, end) or None."""
    i = start + 1
    while i < len(text) and text[i] in " \t\n":
        i += 1
    if i < len(text) and text[i] == "<":
        close = text.find(">", i)
        if close < 0 or "\n" in text[i:close]:
            return None
        dest, i = text[i + 1:close], close + 1
    else:
        begin, depth = i, 0
        while i < len(text) and not text[i].isspace():
            if text[i] == "(":
                depth += 1
            elif text[i] == ")":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        dest = text[begin:i]
    while i < len(text) and text[i] in " \t\n":
        i += 1
    if i < len(text) and text[i] in "\"'(":
        closer = ")" if text[i] == "(" else text[i]
        close = text.find(closer, i + 1)
        if close < 0:
            return None
        i = close + 1
        while i < len(text) and text[i] in " \t\n":
            i += 1
    if i < len(text) and text[i] == ")":
        return dest, i + 1
    return None


def normal_label(label):
    return " ".join(label.split()).lower()


def links(path):
    """(line, destination, kind) for every link in a Markdown file, and
    problems found while reading it."""
    original = (ROOT / path).read_text(encoding="utf-8")
    lines = strip_fences(original.splitlines())
    text = mask_code_spans(blank_comments("\n".join(lines)))
    line_starts = [0]
    for i, c in enumerate(text):
        if c == "\n":
            line_starts.append(i + 1)

    def line_of(offset):
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    found, problems, covered = [], [], []
    definitions = {}
    for number, line in enumerate(text.split("\n"), 1):
        match = REF_DEF.match(line)
        if match and not match.group(1).startswith("^"):
            dest = match.group(2)
            if dest.startswith("<"):
                dest = dest[1:-1]
            definitions[normal_label(match.group(1))] = dest
            found.append((number, dest, "definition"))
            start = line_starts[number - 1]
            covered.append((start, start + len(line)))

    i = 0
    while True:
        i = text.find("[", i)
        if i < 0:
            break
        close = matching_bracket(text, i)
        if close < 0:
            i += 1
            continue
        after = text[close + 1:close + 2]
        label = text[i + 1:close]
        if after == "(":
            parsed = inline_destination(text, close + 1)
            if parsed is not None:
                dest, end = parsed
                found.append((line_of(close + 1), dest, "inline"))
                covered.append((i, end))
                # The link text may hold an image: look inside it too.
                i += 1
                continue
            end = text.find(")", close)
            shown = text[close + 1:end + 1] if 0 <= end < close + 80 else "(…"
            problems.append(
                (
                    line_of(close + 1),
                    "[%s]%s does not parse as a link (a space in the path? "
                    "write %%20 or <...>)" % (label.replace("\x00", "`"), shown),
                )
            )
        elif after == "[":
            ref_close = text.find("]", close + 2)
            if ref_close >= 0 and "\n\n" not in text[close:ref_close]:
                ref = text[close + 2:ref_close] or label
                if not label.startswith("^") and not ref.startswith("^"):
                    if normal_label(ref) not in definitions:
                        problems.append(
                            (line_of(i), "reference [%s] is not defined" % ref)
                        )
                    covered.append((i, ref_close + 1))
                i = ref_close + 1
                continue
        i += 1

    for match in AUTOLINK.finditer(text):
        found.append((line_of(match.start()), match.group(1), "autolink"))
        covered.append(match.span())
    for match in HTML_LINK.finditer(text):
        found.append((line_of(match.start()), match.group(1), "html"))
        covered.append(match.span())
    for match in BARE_URL.finditer(text):
        if any(a <= match.start() < b for a, b in covered):
            continue
        url = match.group(0).rstrip(".,:;!?'\"*_~")
        while url.endswith(")") and url.count(")") > url.count("("):
            url = url[:-1]
        found.append((line_of(match.start()), url, "bare"))
    found.sort(key=lambda item: item[0])
    return found, problems


# --- Checking a link --------------------------------------------------------

HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_url(url):
    """A problem with an absolute http(s) URL, or None."""
    if any(c.isspace() or ord(c) < 32 or c in '<>"\\{}|^`' for c in url):
        return "malformed URL %s: characters that must be percent-encoded" % url
    if not re.match(r"^https?://", url, re.I):
        return "malformed URL %s: expected http:// or https://" % url
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname
    if not parts.netloc or not host:
        return "malformed URL %s: no host" % url
    try:
        parts.port
    except ValueError:
        return "malformed URL %s: bad port" % url
    if parts.netloc.startswith("[") or re.match(r"^[\d.]+$", host):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return "malformed URL %s: bad IP address" % url
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return "malformed URL %s: bad host name" % url
        labels = ascii_host.rstrip(".").split(".")
        if not all(HOST_LABEL.match(label) for label in labels):
            return "malformed URL %s: bad host name" % url
    if re.search(r"%(?![0-9A-Fa-f]{2})", url):
        return "malformed URL %s: bad percent-encoding" % url
    return None


def check_relative(source, dest, known):
    """A problem with a relative link from source, or None."""
    path_part, _, fragment = dest.partition("#")
    path_part = path_part.split("?", 1)[0]
    path_part = urllib.parse.unquote(path_part)
    fragment = urllib.parse.unquote(fragment)

    if not path_part:
        target = source
    else:
        base = "" if path_part.startswith("/") else os.path.dirname(source)
        target = os.path.normpath(os.path.join(base, path_part.lstrip("/")))
        target = target.replace(os.sep, "/")
        if target == ".." or target.startswith("../"):
            return "%s points outside the repository" % dest
    if target == ".":
        return "%s: an anchor on a directory" % dest if fragment else None
    if not exists_exactly(target):
        return "%s: no such file or directory (%s)" % (dest, target)
    if known is not None:
        in_repository = target in known or any(
            k.startswith(target + "/") for k in known
        )
        if not in_repository:
            return "%s: %s exists here but is not in the repository (ignored by git)" % (
                dest,
                target,
            )
    if not fragment and "#" not in dest:
        return None
    if (ROOT / target).is_dir():
        return "%s: an anchor on a directory" % dest
    if target.lower().endswith(MARKDOWN_SUFFIXES):
        defined = anchors(target)
        if fragment in defined:
            return None
        message = "%s: no heading in %s has the anchor #%s" % (dest, target, fragment)
        close = difflib.get_close_matches(fragment, sorted(defined), n=1)
        if close:
            message += " (did you mean #%s?)" % close[0]
        return message
    if re.match(r"^L\d+(?:C\d+)?(?:-L\d+(?:C\d+)?)?$", fragment):
        return None
    return "%s: only line anchors (#L12, #L12-L20) can point into %s" % (dest, target)


def check(source, dest, known):
    dest = dest.strip()
    if not dest:
        return "empty link destination"
    scheme = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", dest)
    if scheme and not re.match(r"^[A-Za-z]:[\\/]", dest):
        name = scheme.group(1).lower()
        if name in ("http", "https"):
            return check_url(dest)
        if name == "mailto":
            if re.match(r"^mailto:[^@\s]+@[^@\s]+$", dest, re.I):
                return None
            return "malformed mailto link %s" % dest
        return "unsupported link scheme %s: in %s" % (name, dest)
    if dest.startswith("//"):
        return "protocol-relative link %s: write http:// or https://" % dest
    return check_relative(source, dest, known)


def main(argv):
    known = repository_files()
    if argv:
        files = []
        for name in argv:
            path = Path(name).resolve()
            try:
                files.append(path.relative_to(ROOT).as_posix())
            except ValueError:
                print("%s: not in the repository" % name, file=sys.stderr)
                return 2
    else:
        files = documents(known)
    if not files:
        print("check-docs: no Markdown files found", file=sys.stderr)
        return 1

    errors, relative, absolute = [], 0, 0
    for source in files:
        found, problems = links(source)
        for number, dest, _kind in found:
            if re.match(r"^https?:", dest.strip(), re.I):
                absolute += 1
            else:
                relative += 1
            problem = check(source, dest, known)
            if problem:
                problems.append((number, problem))
        problems.sort(key=lambda item: item[0])
        errors += ["%s:%d: %s" % (source, n, p) for n, p in problems]

    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(
            "check-docs: %d broken link%s in %d files"
            % (len(errors), "" if len(errors) == 1 else "s", len(files)),
            file=sys.stderr,
        )
        return 1
    print(
        "check-docs: %d file%s, %d links (%d relative, %d absolute), all good"
        % (
            len(files),
            "" if len(files) == 1 else "s",
            relative + absolute,
            relative,
            absolute,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
