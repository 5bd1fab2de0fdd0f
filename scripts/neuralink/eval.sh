#!/bin/sh
# Encode and decode every WAV of a folder with ./encode and ./decode, byte-compare each file and
# print the total compression ratio (as the challenge's eval.sh does).
# Usage: eval.sh [FOLDER] [--limit N] [--jobs N]   (default FOLDER: ../shared/data/n1)
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
python="$here/../../.venv/bin/python"
[ -x "$python" ] || python=python3
folder="$here/../../../shared/data/n1"
case "$1" in ""|-*) ;; *) folder=$1; shift ;; esac
exec "$python" -m neurocodec.brainwire eval "$folder" "$@"
