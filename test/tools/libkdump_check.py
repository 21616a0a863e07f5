#!/usr/bin/python3
"""Reads pages of a dump through libkdumpfile and compares them with an ELF vmcore.

usage: libkdump_check.py DUMP[,PART2,...] VMCORE [--pfns FILE | --sample N --seed S]

Prints one JSON line: format, pages compared, mismatches, nodata, errors, and a status
string with one character per asked pfn ('o' read and equal, 'x' no data, 'm' mismatch,
'e' other error), in the order asked, so the caller can match it with its own bitmap.
Split dump sets are given as a comma-separated list.
"""
import ctypes, json, mmap, os, random, struct, sys

import kdumpfile


def elf_loads(m):
    if m[0:4] != b'\x7fELF':
        raise SystemExit('vmcore is not ELF')
    phoff, = struct.unpack_from('<Q', m, 32)
    phentsize, phnum = struct.unpack_from('<HH', m, 54)
    loads = []
    for i in range(phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz, _ = struct.unpack_from('<IIQQQQQQ', m, phoff + i * phentsize)
        if p_type == 1:
            loads.append((p_paddr, p_filesz, p_memsz, p_offset))
    return loads


def elf_page(m, loads, pa, size=4096):
    out = bytearray(size)
    # the first PT_LOAD that holds a byte wins, so copy in reverse order
    for paddr, filesz, memsz, off in reversed(loads):
        lo, hi = max(pa, paddr), min(pa + size, paddr + filesz)
        if lo < hi:
            out[lo - pa:hi - pa] = m[off + lo - paddr:off + hi - paddr]
    return bytes(out)


class NoData(Exception):
    pass


class FileSet:
    """A split dump set through libkdumpfile's C API (kdump_open_fdset): the 0.5.1 Python
    binding opens one file only."""
    KDUMP_ERR_NODATA = 3

    def __init__(self, parts):
        lib = ctypes.CDLL('libkdumpfile.so.10')
        lib.kdump_new.restype = ctypes.c_void_p
        lib.kdump_open_fdset.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.POINTER(ctypes.c_int)]
        lib.kdump_read.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        lib.kdump_get_err.restype = ctypes.c_char_p
        lib.kdump_get_err.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.ctx = lib.kdump_new()
        fds = (ctypes.c_int * len(parts))(*[os.open(p, os.O_RDONLY) for p in parts])
        st = lib.kdump_open_fdset(self.ctx, len(parts), fds)
        if st != 0:
            raise SystemExit('kdump_open_fdset: %s' % lib.kdump_get_err(self.ctx))
        self.buf = ctypes.create_string_buffer(4096)
        self.attr = {'file.format': 'diskdump (set of %d)' % len(parts)}

    def read(self, space, addr, size):
        n = ctypes.c_size_t(size)
        st = self.lib.kdump_read(self.ctx, space, addr, self.buf, ctypes.byref(n))
        if st == self.KDUMP_ERR_NODATA:
            raise NoData()
        if st != 0:
            raise RuntimeError(self.lib.kdump_get_err(self.ctx))
        return self.buf.raw[:n.value]


def open_dump(spec):
    parts = spec.split(',')
    if len(parts) == 1:
        return kdumpfile.kdumpfile(parts[0])
    return FileSet(parts)


def main():
    args = sys.argv[1:]
    dump, vmcore = args[0], args[1]
    pfns = []
    if '--pfns' in args:
        with open(args[args.index('--pfns') + 1]) as f:
            pfns = [int(x, 16) for x in f.read().split()]
    with open(vmcore, 'rb') as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        loads = elf_loads(m)
        if '--sample' in args:
            n = int(args[args.index('--sample') + 1])
            seed = int(args[args.index('--seed') + 1]) if '--seed' in args else 1
            rnd = random.Random(seed)
            spans = [(p >> 12, (p + fs) >> 12) for p, fs, _, _ in loads]
            total = sum(b - a for a, b in spans)
            for _ in range(n):
                x = rnd.randrange(total)
                for a, b in spans:
                    if x < b - a:
                        pfns.append(a + x)
                        break
                    x -= b - a
        k = open_dump(dump)
        res = {'format': str(k.attr['file.format']), 'compared': 0, 'mismatches': 0, 'nodata': 0, 'errors': 0}
        status = []
        for pfn in pfns:
            try:
                buf = bytes(k.read(kdumpfile.KDUMP_MACHPHYSADDR, pfn << 12, 4096))
            except (kdumpfile.exceptions.NoDataException, NoData):
                res['nodata'] += 1
                status.append('x')
                continue
            except Exception as ex:
                res['errors'] += 1
                res['last_error'] = repr(ex)
                status.append('e')
                continue
            res['compared'] += 1
            if buf != elf_page(m, loads, pfn << 12):
                res['mismatches'] += 1
                status.append('m')
            else:
                status.append('o')
        res['pfns'] = [format(p, 'x') for p in pfns] if '--sample' in args else None
        res['status'] = ''.join(status)
        print(json.dumps(res))


main()
