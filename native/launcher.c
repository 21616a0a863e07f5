/*
 * cyclodump's compiled launcher: what the sh part of bin/cyclodump does, without a shell.
 * Below 12 open files dash and busybox cannot even read a script (they move its descriptor
 * and the ones a redirect saves above 9), so only a program the kernel starts directly can
 * refuse such a limit in one line of its own (issue 18). It checks the limits Node itself
 * cannot live under (Node aborts before any JavaScript runs: libuv assertions below 18
 * descriptors, "Fatal process OOM" when V8 cannot reserve its 512 MiB code range) and execs
 * `node` from PATH with flags that fit, on bin/cyclodump.js of its own package;
 * src/util/limits.ts fits the threads to what is left. Figures: perf/RESULTS.md, "Resource
 * limits". Keep the thresholds, messages and flags equal to bin/cyclodump's sh part.
 *
 * native/build-launcher.js compiles it at install; where it cannot, bin/cyclodump stays the
 * sh/JavaScript polyglot. It lives at bin/cyclodump (installed package) or build/cyclodump
 * (a clone): either way its package is the parent of its own directory.
 *
 * Every message is one write(2) of a whole line: no stdio, which needs nothing but fd 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define MIN_FILES 21
#define MIN_ADDRESS_KIB 229376UL
/* below 1 GiB there is no room for V8's code range: run without a JIT (the page loops are C) */
#define JIT_ADDRESS_KIB 1048576UL
/* lean mode by itself below this much MemAvailable (a kdump capture kernel) */
#define LEAN_AVAILABLE_KIB 131072L

static char line[PATH_MAX + 256];

static void say(int len)
{
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	line[len - 1] = '\n';
	(void)!write(2, line, len);
}

/* the program's own file: /proc/self/exe, else argv[0] as a path or found on PATH */
static int self_path(const char *argv0, char *out)
{
	ssize_t n = readlink("/proc/self/exe", out, PATH_MAX - 1);
	if (n > 0) {
		out[n] = 0;
		return 0;
	}
	if (strchr(argv0, '/'))
		return realpath(argv0, out) ? 0 : -1;
	const char *p = getenv("PATH");
	while (p && *p) {
		const char *end = strchrnul(p, ':');
		char cand[PATH_MAX];
		int len = snprintf(cand, sizeof(cand), "%.*s/%s", (int)(end - p), p, argv0);
		if (len > 0 && (size_t)len < sizeof(cand) && access(cand, X_OK) == 0 && realpath(cand, out))
			return 0;
		p = *end ? end + 1 : end;
	}
	return -1;
}

/* MemAvailable from /proc/meminfo in KiB, or -1 */
static long mem_available_kib(void)
{
	char buf[4096];
	int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	const char *p = strstr(buf, "MemAvailable:");
	return p ? strtol(p + 13, NULL, 10) : -1;
}

/*
 * Lean mode (CYCLODUMP_LEAN=1, or by itself below LEAN_AVAILABLE_KIB of MemAvailable: a kdump
 * capture kernel): no JIT, no V8 helper threads, a 1 MiB young generation. The page loops
 * are C, so the dump's time hardly changes, and node's working set fits where it thrashed.
 */
static int lean_mode(void)
{
	const char *e = getenv("CYCLODUMP_LEAN");
	long kib;
	if (e && *e)
		return strcmp(e, "1") == 0;
	kib = mem_available_kib();
	return kib >= 0 && kib < LEAN_AVAILABLE_KIB;
}

static const char *const LEAN_FLAGS[] = { "--jitless", "--no-expose-wasm", "--single-threaded", "--max-semi-space-size=1" };
#define FLAG_SLOTS 4

int main(int argc, char **argv)
{
	struct rlimit rl;
	const char *node_flags[FLAG_SLOTS] = { 0, 0, 0, 0 };

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < MIN_FILES) {
		say(snprintf(line, sizeof(line), "cyclodump: too few file descriptors: the limit is %lu (ulimit -n) and a dump needs at least %d\n",
			     (unsigned long)rl.rlim_cur, MIN_FILES));
		return 1;
	}
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		unsigned long kib = (unsigned long)(rl.rlim_cur / 1024);
		if (kib < MIN_ADDRESS_KIB) {
			say(snprintf(line, sizeof(line), "cyclodump: too little address space: the limit is %lu KiB (ulimit -v) and a dump needs at least %lu\n",
				     kib, MIN_ADDRESS_KIB));
			return 1;
		}
		/* glibc reserves 64 MiB per thread for malloc arenas otherwise; below 1 GiB one
		 * arena (bin/cyclodump says why) */
		const char *arenas = getenv("MALLOC_ARENA_MAX");
		if (!arenas || !*arenas)
			setenv("MALLOC_ARENA_MAX", kib < JIT_ADDRESS_KIB ? "1" : "2", 1);
		if (kib < JIT_ADDRESS_KIB) {
			node_flags[0] = "--jitless";
			node_flags[1] = "--no-expose-wasm";
		}
	}
	if (lean_mode()) {
		for (int i = 0; i < FLAG_SLOTS; i++)
			node_flags[i] = LEAN_FLAGS[i];
		/* the run itself keeps fewer, smaller page batches (src/util/limits.ts leanMode) */
		setenv("CYCLODUMP_LEAN", "1", 1);
	}

	char self[PATH_MAX], entry[PATH_MAX];
	char *cut;
	if (self_path(argc > 0 ? argv[0] : "cyclodump", self) != 0 || !(cut = strrchr(self, '/'))) {
		say(snprintf(line, sizeof(line), "cyclodump: cannot find the launcher's own file: %s\n", strerror(errno)));
		return 1;
	}
	*cut = 0;
	if (!(cut = strrchr(self, '/')))
		cut = self;
	*cut = 0;
	int len = snprintf(entry, sizeof(entry), "%s/bin/cyclodump.js", self);
	if (len < 0 || (size_t)len >= sizeof(entry) || access(entry, R_OK) != 0) {
		say(snprintf(line, sizeof(line), "cyclodump: cannot read %s: %s\n", entry, strerror(errno)));
		return 1;
	}

	char **args = malloc((argc + FLAG_SLOTS + 2) * sizeof(*args));
	if (!args) {
		say(snprintf(line, sizeof(line), "cyclodump: cannot start node: %s\n", strerror(errno)));
		return 1;
	}
	int a = 0;
	args[a++] = "node";
	for (int i = 0; i < FLAG_SLOTS; i++)
		if (node_flags[i])
			args[a++] = (char *)node_flags[i];
	args[a++] = entry;
	for (int i = 1; i < argc; i++)
		args[a++] = argv[i];
	args[a] = 0;
	execvp("node", args);
	say(snprintf(line, sizeof(line), "cyclodump: cannot start node: %s\n", strerror(errno)));
	return 1;
}
