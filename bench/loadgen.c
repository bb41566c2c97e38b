// Load generator for the trace_open benchmark (bench/trace_open.bench.ts compiles it with gcc at bench time).
//
//   loadgen storm N GOFILE   wait (stat() polling, no openat) until GOFILE exists, then run
//                            N x openat(AT_FDCWD, "/etc/hostname", O_RDONLY) + close, then print one line:
//                            "opens=N fails=F seconds=S opens_per_s=R utime_s=U stime_s=K"
//                            (utime/stime: CPU used during the storm only)
//   loadgen tick MS          open+close /etc/hostname every MS milliseconds until killed
//
// The process renames itself (prctl PR_SET_NAME) to "igb_storm" or "igb_tick" so that its events are
// easy to recognise (and to filter with --comm) in every tracer's output.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const TARGET = "/etc/hostname";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: loadgen storm N GOFILE | loadgen tick MS\n");
	return 2;
}

static int storm(long n, const char *gofile)
{
	struct timespec pause = { 0, 200 * 1000 }; /* 200 us between stat() polls */
	struct stat st;
	struct rusage ru0, ru1;
	long fails = 0;
	double t0, t1;

	prctl(PR_SET_NAME, "igb_storm", 0, 0, 0);
	/* Tell the parent we are up, then wait without any openat(). */
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	while (stat(gofile, &st) != 0) {
		if (errno != ENOENT) {
			perror("stat");
			return 1;
		}
		nanosleep(&pause, NULL);
	}

	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, TARGET, O_RDONLY);

		if (fd < 0) {
			fails++;
			continue;
		}
		close(fd);
	}
	t1 = now_s();

	getrusage(RUSAGE_SELF, &ru1);
	/* CPU of the storm only (not of the wait before it). */
	printf("opens=%ld fails=%ld seconds=%.6f opens_per_s=%.1f utime_s=%.6f stime_s=%.6f\n",
	       n, fails, t1 - t0, (double)n / (t1 - t0),
	       tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime), tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime));
	fflush(stdout);
	return fails ? 1 : 0;
}

static int tick(long ms)
{
	struct timespec pause = { ms / 1000, (ms % 1000) * 1000000L };

	prctl(PR_SET_NAME, "igb_tick", 0, 0, 0);
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		int fd = openat(AT_FDCWD, TARGET, O_RDONLY);

		if (fd >= 0)
			close(fd);
		nanosleep(&pause, NULL);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "storm") == 0) {
		long n = strtol(argv[2], NULL, 10);

		if (n <= 0)
			return usage();
		return storm(n, argv[3]);
	}
	if (argc >= 3 && strcmp(argv[1], "cpuclock") == 0) {
		/* Precise CPU time of whole processes (every thread, exited ones too): the kernel's runtime
		 * accounting, not the tick samples of /proc/PID/stat. */
		for (int i = 2; i < argc; i++) {
			clockid_t id;
			struct timespec ts;

			if (clock_getcpuclockid((pid_t)strtol(argv[i], NULL, 10), &id) || clock_gettime(id, &ts))
				printf("-1\n");
			else
				printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		}
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "tick") == 0) {
		long ms = strtol(argv[2], NULL, 10);

		if (ms <= 0)
			return usage();
		return tick(ms);
	}
	return usage();
}
