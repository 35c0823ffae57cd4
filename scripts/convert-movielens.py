#!/usr/bin/env python3
"""Convert a MovieLens dataset into Amazon Personalize-format CSV files.

usage: scripts/convert-movielens.py [--splits] ml-100k|ml-latest-small SRC_DIR OUT_DIR

Writes into OUT_DIR (created if absent):

  interactions.csv  USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP
                    one row per rating; EVENT_TYPE is "rating", EVENT_VALUE the
                    rating as written in the source ("3", "4.5"), TIMESTAMP unix s
  items.csv         ITEM_ID,TITLE,GENRES,YEAR
                    GENRES joined with '|' (empty when the source lists none),
                    YEAR the release year (empty when unknown); every movie the
                    source lists, rated or not
  users.csv         USER_ID,AGE,GENDER,OCCUPATION (ml-100k only)

With --splits (ml-100k only), the u1..u5 and ua/ub base/test splits present in
SRC_DIR are also converted, to OUT_DIR/splits/<name>.csv (e.g. u1.base.csv),
in the interactions.csv format.

Rows keep the source's order. Output is UTF-8 with LF line endings, quoted per
RFC 4180 where needed (titles with commas or quotes). ml-100k's u.item is read
as ISO-8859-1 (latin-1) and re-encoded to UTF-8. Each file is written to a
temporary name and renamed, so an interrupted run leaves no partial CSV.

The MovieLens licences forbid redistribution: write OUT_DIR outside the
repository (or somewhere git ignores) and never commit the output.

Standard library only; runs on Debian 12's /usr/bin/python3 (3.11).
"""

import csv
import os
import re
import sys

INTERACTIONS_HEADER = ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
ITEMS_HEADER = ["ITEM_ID", "TITLE", "GENRES", "YEAR"]
USERS_HEADER = ["USER_ID", "AGE", "GENDER", "OCCUPATION"]
EVENT_TYPE = "rating"

# ml-100k: the 19 genre flag columns of u.item, in order (as in u.genre).
ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
]
ML100K_SPLITS = ["u%d.%s" % (i, k) for i in range(1, 6) for k in ("base", "test")] + [
    "u%s.%s" % (x, k) for x in ("a", "b") for k in ("base", "test")
]

# ml-latest-small: the title ends with the year in parentheses, e.g.
# "Toy Story (1995)" or "Babylon 5 (1994-1998)"; a few titles have none.
YEAR_RE = re.compile(r"\((\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")


class ConvertError(Exception):
    pass


class AtomicCSV:
    """A csv.writer on OUT.tmp, renamed to OUT on successful close."""

    def __init__(self, path, header):
        self.path = path
        self.tmp = path + ".tmp"
        self.f = open(self.tmp, "w", encoding="utf-8", newline="")
        self.w = csv.writer(self.f, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        self.w.writerow(header)
        self.rows = 0

    def row(self, values):
        self.w.writerow(values)
        self.rows += 1

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.f.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass
        return False


def where(path, lineno):
    return "%s:%d" % (path, lineno)


def check_int(value, path, lineno, what):
    if not re.fullmatch(r"[0-9]+", value):
        raise ConvertError("%s: %s %r is not a non-negative integer" % (where(path, lineno), what, value))
    return value


def check_rating(value, path, lineno):
    try:
        r = float(value)
    except ValueError:
        r = None
    if r is None or not (0 <= r <= 5):
        raise ConvertError("%s: rating %r is not a number in 0..5" % (where(path, lineno), value))
    return value


def lines(path, encoding):
    """(line number, line without its newline) for each non-empty line."""
    with open(path, encoding=encoding, newline="") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if line:
                yield n, line


def convert_100k_ratings(path, out_path):
    """u.data format (user \\t item \\t rating \\t timestamp) -> interactions CSV."""
    with AtomicCSV(out_path, INTERACTIONS_HEADER) as out:
        for n, line in lines(path, "ascii"):
            parts = line.split("\t")
            if len(parts) != 4:
                raise ConvertError("%s: expected 4 tab-separated fields, got %d" % (where(path, n), len(parts)))
            user, item, rating, ts = parts
            out.row([
                check_int(user, path, n, "user id"),
                check_int(item, path, n, "item id"),
                EVENT_TYPE,
                check_rating(rating, path, n),
                check_int(ts, path, n, "timestamp"),
            ])
        return out.rows


def convert_100k(src, out_dir, splits):
    counts = {}
    counts["interactions.csv"] = convert_100k_ratings(
        os.path.join(src, "u.data"), os.path.join(out_dir, "interactions.csv"))

    path = os.path.join(src, "u.item")
    with AtomicCSV(os.path.join(out_dir, "items.csv"), ITEMS_HEADER) as out:
        for n, line in lines(path, "latin-1"):
            parts = line.split("|")
            if len(parts) != 5 + len(ML100K_GENRES):
                raise ConvertError("%s: expected %d '|'-separated fields, got %d"
                                   % (where(path, n), 5 + len(ML100K_GENRES), len(parts)))
            item, title, release = parts[0], parts[1], parts[2]
            flags = parts[5:]
            genres = []
            for g, flag in zip(ML100K_GENRES, flags):
                if flag not in ("0", "1"):
                    raise ConvertError("%s: genre flag %r is not 0 or 1" % (where(path, n), flag))
                if flag == "1":
                    genres.append(g)
            # release date: dd-Mon-yyyy, or empty for the one "unknown" movie
            m = re.fullmatch(r"\d{1,2}-[A-Za-z]{3}-(\d{4})", release)
            if release and not m:
                raise ConvertError("%s: release date %r is not dd-Mon-yyyy" % (where(path, n), release))
            out.row([check_int(item, path, n, "item id"), title.strip(), "|".join(genres),
                     m.group(1) if m else ""])
        counts["items.csv"] = out.rows

    path = os.path.join(src, "u.user")
    with AtomicCSV(os.path.join(out_dir, "users.csv"), USERS_HEADER) as out:
        for n, line in lines(path, "latin-1"):
            parts = line.split("|")
            if len(parts) != 5:
                raise ConvertError("%s: expected 5 '|'-separated fields, got %d" % (where(path, n), len(parts)))
            user, age, gender, occupation, _zip = parts
            out.row([check_int(user, path, n, "user id"), check_int(age, path, n, "age"),
                     gender, occupation])
        counts["users.csv"] = out.rows

    if splits:
        split_dir = os.path.join(out_dir, "splits")
        os.makedirs(split_dir, exist_ok=True)
        for name in ML100K_SPLITS:
            p = os.path.join(src, name)
            if os.path.exists(p):
                counts["splits/%s.csv" % name] = convert_100k_ratings(
                    p, os.path.join(split_dir, name + ".csv"))
    return counts


def read_csv_rows(path, header):
    """Rows of an RFC 4180 CSV file whose first row must equal header."""
    with open(path, encoding="utf-8", newline="") as f:
        r = csv.reader(f, strict=True)
        first = next(r, None)
        if first is None:
            raise ConvertError("%s: empty file" % path)
        if first and first[0].startswith("\ufeff"):
            first[0] = first[0][1:]
        if first != header:
            raise ConvertError("%s: header is %r, expected %r" % (path, first, header))
        for row in r:
            if not row:
                continue
            if len(row) != len(header):
                raise ConvertError("%s: expected %d fields, got %d"
                                   % (where(path, r.line_num), len(header), len(row)))
            yield r.line_num, row


def convert_latest_small(src, out_dir):
    counts = {}
    path = os.path.join(src, "ratings.csv")
    with AtomicCSV(os.path.join(out_dir, "interactions.csv"), INTERACTIONS_HEADER) as out:
        for n, (user, item, rating, ts) in read_csv_rows(path, ["userId", "movieId", "rating", "timestamp"]):
            out.row([
                check_int(user, path, n, "userId"),
                check_int(item, path, n, "movieId"),
                EVENT_TYPE,
                check_rating(rating, path, n),
                check_int(ts, path, n, "timestamp"),
            ])
        counts["interactions.csv"] = out.rows

    path = os.path.join(src, "movies.csv")
    with AtomicCSV(os.path.join(out_dir, "items.csv"), ITEMS_HEADER) as out:
        for n, (item, title, genres) in read_csv_rows(path, ["movieId", "title", "genres"]):
            title = title.strip()
            if genres == "(no genres listed)":
                genres = ""
            m = YEAR_RE.search(title)
            out.row([check_int(item, path, n, "movieId"), title, genres, m.group(1) if m else ""])
        counts["items.csv"] = out.rows
    return counts


def usage(stream):
    stream.write("usage: %s [--splits] ml-100k|ml-latest-small SRC_DIR OUT_DIR\n"
                 % os.path.basename(sys.argv[0]))


def main(argv):
    args = list(argv)
    if any(a in ("-h", "--help") for a in args):
        usage(sys.stdout)
        sys.stdout.write(__doc__.split("\n", 3)[3])
        return 0
    splits = "--splits" in args
    args = [a for a in args if a != "--splits"]
    if len(args) != 3 or args[0] not in ("ml-100k", "ml-latest-small"):
        usage(sys.stderr)
        return 2
    kind, src, out_dir = args
    if splits and kind != "ml-100k":
        sys.stderr.write("convert-movielens: --splits is only for ml-100k\n")
        return 2
    if not os.path.isdir(src):
        sys.stderr.write("convert-movielens: %s: not a directory\n" % src)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    try:
        if kind == "ml-100k":
            counts = convert_100k(src, out_dir, splits)
        else:
            counts = convert_latest_small(src, out_dir)
    except (ConvertError, OSError, UnicodeDecodeError, csv.Error) as e:
        sys.stderr.write("convert-movielens: %s\n" % e)
        return 1
    for name, rows in counts.items():
        sys.stdout.write("%s: %d rows\n" % (os.path.join(out_dir, name), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
