#!/usr/bin/env python3
"""Turns a .cu file (or a header of kernels/cuda) into C++ for the CPU
emulation of the CUDA runtime (tests/cuda_emu/cuda_emu.h): the CUDA syntax
that is not C++, or not the emulation's C++, once its macros are in place.

    name<<<grid, block[, shared_bytes[, stream]]>>>(args);
becomes
    facs_emu_launch("name", __FILE__, __LINE__, grid, block, shared_bytes, stream,
                    [&](auto &...facs_emu_a) { name(facs_emu_a...); }, args);

so the kernel (a plain function, a template with explicit arguments, or one
whose arguments are deduced) is called by every emulated thread with the
arguments evaluated once at the launch, as CUDA does. NULL among the arguments
becomes nullptr: an argument is stored at its own type before the kernel's
parameter conversions apply, and NULL's type is an integer.

    extern __shared__ T name[];      (dynamic shared memory, inside a kernel)
becomes
    T *const name = (T *)facs_emu_dynamic_shared();
and
    __shared__ T name[N];            (inside a kernel or device function)
becomes
    static T name[N]; static unsigned long long facs_emu_block_of_name;
    facs_emu_shared_reached(&facs_emu_block_of_name, &name, sizeof name);
which fills name with NaN bytes when the first thread of each block gets
there, so that no block reads the previous block's values.

Comments and string literals are left alone; every line keeps its number (a
#line directive names the original file), so compiler messages and __LINE__
point into the .cu file.

Usage: rewrite_launches.py INPUT OUTPUT
"""
import os
import re
import sys


def code_mask(text):
    """text with comments, string and character literals blanked out (newlines
    kept), so that searches only see code."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            i += 1
            continue
        for k in range(i, min(j, n)):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


OPEN = {"(": ")", "[": "]", "{": "}"}
CLOSE = {v: k for k, v in OPEN.items()}


def fail(path, masked, pos, msg):
    line = masked.count("\n", 0, pos) + 1
    sys.exit(f"{path}:{line}: rewrite_launches: {msg}")


def match_forward(masked, pos, path):
    """Index just past the bracket that closes the one at pos."""
    stack = []
    for i in range(pos, len(masked)):
        c = masked[i]
        if c in OPEN:
            stack.append(OPEN[c])
        elif c in CLOSE:
            if not stack or stack.pop() != c:
                fail(path, masked, i, "unbalanced brackets")
            if not stack:
                return i + 1
    fail(path, masked, pos, "unterminated bracket")


def kernel_start(masked, end, path):
    """Start of the kernel expression that ends at end: a name, possibly
    qualified (a::b) and with template arguments (k<T, U<V>>)."""
    i = end
    while i > 0 and masked[i - 1].isspace():
        i -= 1
    while True:
        if i > 0 and masked[i - 1] == ">":
            angles, parens = 0, 0
            while i > 0:
                i -= 1
                c = masked[i]
                if c in CLOSE:
                    parens += 1
                elif c in OPEN:
                    parens -= 1
                elif parens == 0 and c == ">":
                    angles += 1
                elif parens == 0 and c == "<":
                    angles -= 1
                    if angles == 0:
                        break
            if angles or parens:
                fail(path, masked, end, "unbalanced template arguments before <<<")
        j = i
        while j > 0 and (masked[j - 1].isalnum() or masked[j - 1] == "_"):
            j -= 1
        if j == i:
            fail(path, masked, end, "no kernel name before <<<")
        i = j
        if masked[max(0, i - 2):i] == "::":
            i -= 2
            continue
        return i


def split_top(text, masked):
    """text split at the commas outside any bracket."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(masked):
        if c in OPEN:
            depth += 1
        elif c in CLOSE:
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def rewrite_launches(text, path):
    out, pos = [], 0
    masked = code_mask(text)
    for m in re.finditer(r"<<<", masked):
        if m.start() < pos:
            continue
        begin = kernel_start(masked, m.start(), path)
        close = masked.find(">>>", m.end())
        if close < 0:
            fail(path, masked, m.start(), "<<< without >>>")
        config = split_top(masked[m.end():close], masked[m.end():close])
        if not 2 <= len(config) <= 4:
            fail(path, masked, m.start(), "a launch takes 2 to 4 configuration values")
        config += ["0"] * (4 - len(config))
        paren = close + 3
        while paren < len(masked) and masked[paren].isspace():
            paren += 1
        if paren >= len(masked) or masked[paren] != "(":
            fail(path, masked, close, "no argument list after >>>")
        args_end = match_forward(masked, paren, path)
        name = text[begin:m.start()].rstrip()
        args = re.sub(r"\bNULL\b", "nullptr", text[paren + 1:args_end - 1])
        args_masked = code_mask(args)
        call = (f'facs_emu_launch("{name}", __FILE__, __LINE__, {", ".join(c.strip() for c in config)}, '
                f"[&](auto &...facs_emu_a) {{ {name}(facs_emu_a...); }}"
                + ("" if not args_masked.strip() else ", " + args))
        call += "\n" * (text.count("\n", begin, args_end) - call.count("\n")) + ")"
        out.append(text[pos:begin])
        out.append(call)
        pos = args_end
    out.append(text[pos:])
    return "".join(out)


DYNAMIC_SHARED = re.compile(
    r"\bextern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s+)?(?P<type>[\w:<>\s*]+?)\s*\b(?P<name>\w+)\s*\[\s*\]\s*;")


def rewrite_dynamic_shared(text, path):
    masked = code_mask(text)
    out, pos = [], 0
    for m in DYNAMIC_SHARED.finditer(masked):
        depth = masked.count("{", 0, m.start()) - masked.count("}", 0, m.start())
        if depth == 0:
            fail(path, masked, m.start(), "extern __shared__ at namespace scope: declare it inside the kernel "
                 "for the emulation")
        kind, name = m.group("type").strip(), m.group("name")
        out.append(text[pos:m.start()])
        out.append(f"{kind} *const {name} = ({kind} *)facs_emu_dynamic_shared();")
        out.append("\n" * masked.count("\n", m.start(), m.end()))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


STATIC_SHARED = re.compile(r"\b(?:static\s+)?__shared__\b")


def rewrite_static_shared(text, path):
    """Each __shared__ declaration in a function becomes a static plus, on the
    same line, a call that fills it with NaN bytes the first time a thread of
    a new block reaches it: no block sees the previous block's values."""
    masked = code_mask(text)
    out, pos = [], 0
    for m in STATIC_SHARED.finditer(masked):
        if m.start() < pos:
            continue
        depth = masked.count("{", 0, m.start()) - masked.count("}", 0, m.start())
        if depth == 0:
            fail(path, masked, m.start(), "__shared__ at namespace scope: declare it inside the kernel for the "
                 "emulation")
        end = m.end()
        nest = 0
        while end < len(masked) and (masked[end] != ";" or nest):
            nest += masked[end] in OPEN
            nest -= masked[end] in CLOSE
            end += 1
        decl = text[m.end():end]
        names = []
        for part in split_top(decl, masked[m.end():end]):
            head = re.split(r"[\[=]", part, maxsplit=1)[0]
            ident = re.findall(r"[A-Za-z_]\w*", head)
            if not ident:
                fail(path, masked, m.start(), "cannot find the name a __shared__ declaration declares")
            names.append(ident[-1])
        marks = "".join(f" static unsigned long long facs_emu_block_of_{n};"
                        f" facs_emu_shared_reached(&facs_emu_block_of_{n}, &{n}, sizeof {n});" for n in names)
        out.append(text[pos:m.start()])
        out.append("static" + decl + ";" + marks)
        pos = end + 1
    out.append(text[pos:])
    return "".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: rewrite_launches.py INPUT OUTPUT")
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    text = rewrite_static_shared(rewrite_dynamic_shared(rewrite_launches(text, src), src), src)
    header = (f"/* Generated by tests/cuda_emu/rewrite_launches.py from {src}: do not edit. */\n"
              f'#line 1 "{src}"\n')
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    with open(dst, "w", encoding="utf-8") as f:
        f.write(header + text)


if __name__ == "__main__":
    main()
