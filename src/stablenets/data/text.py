"""AG-NEWS and the character quantisation of Zhang, Zhao & LeCun (2015).

"Character-level Convolutional Networks for Text Classification" (NeurIPS 2015),
section 2.2: each character is encoded by its position in a 70-character alphabet

    abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'"/\\|_@#$%^&*~`+-=<>()[]{}  and newline

(code 1..70 here; 0 is padding and any character outside the alphabet, as in the
paper's all-zero vector). Text is lower-cased and cut to l0 = 1014 characters. As in the
authors' Crepe code, the fields are joined last-first with spaces (description, then
title), the two characters backslash-n in the CSV become a newline, and the characters
are quantised in backward order: the output starts with the title read backward, and the
last 1014 characters of the joined string are the ones kept. The paper's listing contains "-" twice;
Crepe's table keeps the later position (60), so code 37 is never produced.

Layout: ``root/ag_news_csv/{train,test}.csv`` (rows: "class 1..4","title","description").
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stablenets.data._files import CorruptFileError, check_md5, missing_layout
from stablenets.data.sources import AG_NEWS_FILES

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+-=<>()[]{}\n"
ALPHABET_SIZE = len(ALPHABET)  # 70
SEQUENCE_LENGTH = 1014
_LUT = np.zeros(256, dtype=np.int64)
for _code, _ch in enumerate(ALPHABET, start=1):
    _LUT[ord(_ch)] = _code  # a repeated character keeps its later position, as in Crepe


def quantize(text: str, length: int = SEQUENCE_LENGTH) -> np.ndarray:
    """Codes (int64, shape (length,)) of ``text``: lower-cased, read backward, zero-padded."""
    s = text.lower()[::-1][:length]
    raw = np.frombuffer(s.encode("latin-1", errors="replace"), dtype=np.uint8)
    out = np.zeros(length, dtype=np.int64)
    out[: raw.size] = _LUT[raw]
    return out


def load_ag_news(root: Path, split: str, verify: bool = True, length: int = SEQUENCE_LENGTH):
    folder = root / "ag_news_csv"
    path = folder / f"{split}.csv"
    if not path.is_file():
        raise missing_layout("ag_news", root, "ag_news_csv/train.csv, ag_news_csv/test.csv")
    if verify:
        check_md5(path, AG_NEWS_FILES[path.name])
    codes, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if len(row) < 2 or not row[0].strip().isdigit() or not 1 <= int(row[0]) <= 4:
                raise CorruptFileError(f"{path}, line {lineno}: expected \"class 1..4\",\"title\",\"description\"; "
                                       f"got {row[:3]!r}. The file is truncated or not AG-NEWS.")
            labels.append(int(row[0]) - 1)
            codes.append(quantize(" ".join(row[:0:-1]).replace("\\n", "\n"), length))
    if not labels:
        raise CorruptFileError(f"{path} is empty; download it again.")
    import torch

    return torch.from_numpy(np.stack(codes)), torch.tensor(labels, dtype=torch.int64)
