#!/usr/bin/python3
"""tools/mutate/mutate.py -- mutation testing of the rules that keep users safe.

    make mutate                         every mutant in tools/mutate/mutants.txt
    tools/mutate/mutate.py ID ...       only these mutants
    tools/mutate/mutate.py --list       list the mutants and their tests
    tools/mutate/mutate.py -j 4         run 4 mutants at a time (MUTATE_JOBS, default 2)
    tools/mutate/mutate.py --keep       keep the scratch copies (for a post-mortem)
    tools/mutate/mutate.py --from-head  mutate the last commit, not the working tree

Each mutant in mutants.txt is a one-line change to a rule the suite must
defend: argument and header validation, dot-stuffing and the end-of-data
marker, reply bounds, reply codes per command, STARTTLS and AUTH success,
server proofs (SCRAM, DIGEST-MD5), certificate host names, credential
wiping, the clear-text rules. For each one the tool copies the tree (src,
lua, spec, the Makefile; never build/) into a scratch directory, replaces
the mutant's original text with its replacement, builds what its tests
need (socket/smtp/core.so for Lua 5.4 and LuaJIT; the C tests build
themselves) and runs its tests, a fast subset chosen for the
rule. A mutant is killed when one of them fails (or runs past the time
limit), and survives when all pass.

Before any mutant, the same tests run on an unmutated copy: they must all
pass there, or nothing a mutant does to them means anything (exit 2).

Exit status: 0 when every mutant was killed; 1 when one survived, when a
mutant's original text is not found exactly once in its file (the list must
not rot silently: fix the entry when the code changes), or when a mutant
does not build (it must be a valid program, or it tests nothing); 2 on a
baseline failure or a usage error.

Adding a mutant is part of writing a rule: whenever code that decides
something about safety is added (a new argument check, a reply code that
must be exact, a bound, a proof, a clear-text condition), add a mutant that
breaks it here, and a test that kills it. The format of mutants.txt is
described at its top.

Network: the tests use 127.0.0.1 only (the specs' own servers). Every
process started here is a child of this script and is waited for.
"""

import argparse
import concurrent.futures
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIST = os.path.join(ROOT, "tools", "mutate", "mutants.txt")
COPY = ["src", "lua", "spec", "Makefile", ".busted", "tools/engine-src.sh"]
TEST_TIMEOUT = int(os.environ.get("MUTATE_TIMEOUT", "300"))
LUA = os.environ.get("MUTATE_LUA", "5.4")
LUA_BIN = "luajit" if LUA == "jit" else "lua" + LUA


class Mutant:
    def __init__(self, ident, desc, lineno):
        self.id, self.desc, self.lineno = ident, desc, lineno
        self.file = self.after = self.old = self.new = None
        self.tests = []


def parse(path):
    """Blocks of 'key: value' lines, each opened by '[id] description'."""
    mutants, cur = [], None
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            m = re.match(r"^\[([A-Za-z0-9_.-]+)\]\s*(.*)$", line)
            if m:
                cur = Mutant(m.group(1), m.group(2), n)
                mutants.append(cur)
                continue
            m = re.match(r"^(file|after|from|to|test):(?: (.*))?$", line)
            if not m or cur is None:
                sys.exit("{}:{}: cannot parse: {!r}".format(path, n, line))
            key, value = m.group(1), m.group(2) or ""
            if key == "test":
                cur.tests.append(value)
            elif getattr(cur, {"from": "old", "to": "new"}.get(key, key)) is not None:
                sys.exit("{}:{}: second '{}:' in mutant {}".format(path, n, key, cur.id))
            else:
                setattr(cur, {"from": "old", "to": "new"}.get(key, key), value)
    seen = set()
    for mu in mutants:
        where = "{}:{}: mutant {}".format(path, mu.lineno, mu.id)
        if mu.id in seen:
            sys.exit(where + ": duplicate id")
        seen.add(mu.id)
        if mu.file is None or mu.old is None or mu.new is None or not mu.tests:
            sys.exit(where + ": needs file:, from:, to: and at least one test:")
        if mu.old == mu.new:
            sys.exit(where + ": from and to are the same")
        for t in mu.tests:
            kind = t.split()[0] if t.split() else ""
            if kind not in ("c", "busted"):
                sys.exit(where + ": a test is 'c TEST...' or 'busted SPEC [busted options]'")
    return mutants


def locate(text, mu):
    """Offset of mu.old in text (after mu.after, if given), or an error."""
    start = 0
    if mu.after is not None:
        if text.count(mu.after) != 1:
            return None, "'after' text found {} times (must be once)".format(text.count(mu.after))
        start = text.index(mu.after) + len(mu.after)
    first = text.find(mu.old, start)
    if first < 0:
        return None, "original text not found" + (" after the 'after' text" if mu.after else "")
    if mu.after is None and text.count(mu.old) != 1:
        return None, "original text found {} times (must be once; add an 'after:' line)".format(
            text.count(mu.old))
    return first, None


def command(test):
    """The argv of a test line, run in the scratch copy."""
    words = shlex.split(test)
    if words[0] == "c":
        return ["sh", "spec/c/run.sh"] + words[1:]
    return [LUA_BIN, "/usr/bin/busted",
            "--lpath=./lua/?.lua;./lua/?/init.lua;./spec/?.lua",
            "--cpath=./build/{}/?.so".format(LUA)] + words[1:]


def needs_build(tests):
    return any(t.split()[0] == "busted" for t in tests)


def run(argv, cwd, timeout, log):
    """Run argv; returns 'ok', 'fail' or 'timeout'. Output goes to log."""
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(shlex.quote(a) for a in argv) + "\n").encode())
        out.flush()
        p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # the test's own process group (it was started in a new session)
            try:
                os.killpg(p.pid, 15)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, 9)
                except ProcessLookupError:
                    pass
                p.wait()
            return "timeout"
    return "ok" if rc == 0 else "fail"


def snapshot(dest, from_head):
    os.makedirs(dest)
    if from_head:
        tar = subprocess.run(["git", "-C", ROOT, "archive", "HEAD"] + COPY,
                             stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["tar", "-x", "-C", dest], input=tar, check=True)
        return
    ignore = shutil.ignore_patterns("build", "__pycache__", "*.o", "*.so")
    for name in COPY:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, name), ignore=ignore, symlinks=True)
        else:
            os.makedirs(os.path.dirname(os.path.join(dest, name)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, name))


def build(cwd, log):
    # LuaJIT too: specs with an nginx part (tls_spec) load build/jit in
    # their setup, whatever --filter selects
    for lua in [LUA] + (["jit"] if LUA != "jit" else []):
        if run(["make", "-s", "WERROR=-Werror", "LUA=" + lua], cwd, 600, log) != "ok":
            return False
    return True


print_lock = threading.Lock()


def say(text):
    with print_lock:
        print(text, flush=True)


def try_mutant(mu, base, work, keep):
    t0 = time.time()
    d = tempfile.mkdtemp(prefix="m-" + mu.id + ".", dir=work)
    log = os.path.join(d, "mutate.log")
    tree = os.path.join(d, "tree")
    result, by = "survived", ""
    try:
        # cp -a keeps the times, so make rebuilds the mutated file only
        subprocess.run(["cp", "-a", base, tree], check=True)
        path = os.path.join(tree, mu.file)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        at, err = locate(text, mu)
        if err:
            return mu, "not found", err, time.time() - t0
        text = text[:at] + mu.new + text[at + len(mu.old):]
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        if mu.file.startswith("src/"):
            # every mutant of the C code must build: -Werror, and the
            # C tests link the engines directly
            if not build(tree, log):
                keep = True  # for the compiler's words
                with open(log, errors="replace") as f:
                    tail = "".join(f.readlines()[-6:]).rstrip()
                return mu, "does not build", "see {}\n{}".format(log, tail), time.time() - t0
        for t in mu.tests:
            status = run(command(t), tree, TEST_TIMEOUT, log)
            if status != "ok":
                result, by = "killed", t + (" (timed out)" if status == "timeout" else "")
                break
        return mu, result, by, time.time() - t0
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def main(argv):
    ap = argparse.ArgumentParser(description="Mutation testing of smtp-native's safety rules.")
    ap.add_argument("ids", nargs="*", help="mutant ids (default: all)")
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "2")))
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directories")
    ap.add_argument("--from-head", action="store_true", help="mutate HEAD, not the working tree")
    args = ap.parse_args(argv)

    mutants = parse(LIST)
    if args.ids:
        known = {m.id: m for m in mutants}
        unknown = [i for i in args.ids if i not in known]
        if unknown:
            print("mutate: unknown mutant(s): " + " ".join(unknown), file=sys.stderr)
            return 2
        mutants = [known[i] for i in args.ids]
    if args.list:
        for mu in mutants:
            print("{:<22} {}  ({})".format(mu.id, mu.desc, mu.file))
            for t in mu.tests:
                print("{:<22}   test: {}".format("", t))
        return 0

    t0 = time.time()
    work = tempfile.mkdtemp(prefix="smtp-native-mutate.")
    base = os.path.join(work, "base")
    try:
        snapshot(base, args.from_head)
        # Every original text must be found before anything runs.
        missing = []
        for mu in mutants:
            with open(os.path.join(base, mu.file), encoding="utf-8") as f:
                _, err = locate(f.read(), mu)
            if err:
                missing.append("{} ({}): {}".format(mu.id, mu.file, err))
        for line in missing:
            say("not found  " + line)
        mutants_ok = [mu for mu in mutants if not any(line.startswith(mu.id + " ") for line in missing)]

        # The baseline: the unmutated copy builds and passes every test used.
        log = os.path.join(work, "baseline.log")
        say("mutate: baseline (unmutated copy in {}) ...".format(base))
        if not build(base, log):
            say("mutate: the unmutated tree does not build; see " + log)
            args.keep = True
            return 2
        # The C tests once, in one run.sh (two at a time in one tree would
        # build the same binaries at once); each busted command on its own.
        ctests, tests = [], []
        for mu in mutants_ok:
            for t in mu.tests:
                words = shlex.split(t)
                if words[0] == "c":
                    ctests += [w for w in words[1:] if w not in ctests]
                elif t not in tests:
                    tests.append(t)
        # (in `jobs` disjoint groups, so that they run side by side)
        groups = [ctests[i::max(1, args.jobs)] for i in range(max(1, args.jobs))]
        for g in reversed([g for g in groups if g]):
            tests.insert(0, "c " + " ".join(g))
        todo = list(tests)

        def base_test(t):
            return t, run(command(t), base, TEST_TIMEOUT, log + "." + str(tests.index(t)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            bad = [t for t, status in pool.map(base_test, todo) if status != "ok"]
        if bad:
            for t in bad:
                say("mutate: fails WITHOUT a mutant: {}  (log: {}.{})".format(t, log, tests.index(t)))
            args.keep = True
            return 2
        say("mutate: baseline passes {} test command(s) in {:.0f}s; {} mutant(s), {} at a time".format(
            len(tests), time.time() - t0, len(mutants_ok), args.jobs))

        counts = {"killed": 0, "survived": 0, "does not build": 0, "not found": len(missing)}
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [pool.submit(try_mutant, mu, base, work, args.keep) for mu in mutants_ok]
            for fut in concurrent.futures.as_completed(futures):
                mu, result, why, dt = fut.result()
                counts[result] += 1
                say("{:<9} {:<22} {:>5.1f}s  {}: {}{}".format(
                    result if result != "does not build" else "BROKEN", mu.id, dt, mu.file, mu.desc,
                    ("\n" + " " * 40 + ("by: " if result == "killed" else "") + why) if why else ""))
        total = len(mutants)
        say("mutate: {} mutant(s): {} killed, {} survived, {} not found, {} do not build; {:.0f}s".format(
            total, counts["killed"], counts["survived"], counts["not found"], counts["does not build"],
            time.time() - t0))
        return 0 if counts["killed"] == total else 1
    finally:
        if args.keep:
            say("mutate: scratch copies kept in " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
