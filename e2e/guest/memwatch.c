/*
 * memwatch: run a command, watch its memory, report like GNU time -v.
 *   memwatch -o FILE [-t SECONDS] COMMAND [ARG...]
 * Every 50 ms it reads /proc/PID/status of the command (its VmHWM, and the highest
 * RssAnon, RssFile, RssShmem seen) and, once it ends, writes to FILE:
 *   Elapsed (wall clock) time (h:mm:ss or m:ss): M:SS.ss
 *   Maximum resident set size (kbytes): N      (ru_maxrss from wait4: the VmHWM)
 *   Peak RssAnon (kbytes): N / Peak RssFile (kbytes): N / Peak RssShmem (kbytes): N
 *   Peak Threads: N      (the most threads the process had at once: a pool of workers shows)
 *   Exit status: N  or  Command terminated by signal N
 * -t: SIGKILL the command after SECONDS (a capture kernel that thrashes never ends).
 * Static, so it runs in any capture environment.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long field(const char *buf, const char *name)
{
	const char *p = strstr(buf, name);
	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	double limit = 0;
	int opt;
	while ((opt = getopt(argc, argv, "+o:t:")) != -1) {
		if (opt == 'o') out = optarg;
		else if (opt == 't') limit = atof(optarg);
		else return 2;
	}
	if (!out || optind >= argc) {
		fprintf(stderr, "usage: memwatch -o FILE [-t SECONDS] COMMAND [ARG...]\n");
		return 2;
	}
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) { perror("fork"); return 2; }
	if (pid == 0) {
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	long anon = 0, file = 0, shmem = 0, hwm = 0, threads = 0;
	int status = 0, killed = 0;
	struct rusage ru;
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			buf[n] = 0;
			fclose(f);
			long v;
			if ((v = field(buf, "RssAnon:")) > anon) anon = v;
			if ((v = field(buf, "RssFile:")) > file) file = v;
			if ((v = field(buf, "RssShmem:")) > shmem) shmem = v;
			if ((v = field(buf, "VmHWM:")) > hwm) hwm = v;
			if ((v = field(buf, "Threads:")) > threads) threads = v;
		}
		pid_t r = wait4(pid, &status, WNOHANG, &ru);
		if (r == pid) break;
		if (limit > 0 && !killed && now() - t0 > limit) { kill(pid, SIGKILL); killed = 1; }
		usleep(50000);
	}
	double el = now() - t0;
	FILE *o = fopen(out, "w");
	if (!o) { perror(out); return 2; }
	fprintf(o, "\tCommand being timed: \"%s\"\n", argv[optind]);
	fprintf(o, "\tElapsed (wall clock) time (h:mm:ss or m:ss): %d:%05.2f\n", (int)(el / 60), el - 60 * (int)(el / 60));
	fprintf(o, "\tMaximum resident set size (kbytes): %ld\n", ru.ru_maxrss);
	fprintf(o, "\tPeak VmHWM seen (kbytes): %ld\n", hwm);
	fprintf(o, "\tPeak RssAnon (kbytes): %ld\n\tPeak RssFile (kbytes): %ld\n\tPeak RssShmem (kbytes): %ld\n", anon, file, shmem);
	fprintf(o, "\tPeak Threads: %ld\n", threads);
	fprintf(o, "\tMajor (requiring I/O) page faults: %ld\n", ru.ru_majflt);
	if (killed) fprintf(o, "\tKilled after the time limit of %.0f s\n", limit);
	if (WIFSIGNALED(status)) fprintf(o, "\tCommand terminated by signal %d\n", WTERMSIG(status));
	else fprintf(o, "\tExit status: %d\n", WEXITSTATUS(status));
	fclose(o);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
