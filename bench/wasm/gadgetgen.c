// Load generator for bench/wasm-gadgets.bench.ts and bench/exec_storm.bench.ts (compiled with gcc at bench time).
//
//   gadgetgen exec N GOFILE MARKER [PATH]  wait until GOFILE exists, then N x (vfork + execve(PATH, default
//                                      /bin/true, [true, MARKER, "-a", "b c"]) + waitpid); print
//                                      "execs=N seconds=S execs_per_s=R"
//   gadgetgen dns N RATE GOFILE MARKER  a DNS responder on 127.0.0.1:53 and a client (run it in a network
//                                      namespace of the bench's own); wait until GOFILE exists, then N queries
//                                      "<i>.<MARKER>.bench." of type A (RATE per second, 0: as fast as the
//                                      ping-pong goes), each answered with one A record; print
//                                      "queries=N answered=A seconds=S queries_per_s=R"
//
// Both rename themselves (prctl PR_SET_NAME) to igb_gen so that a tracer's --comm can pick them.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wait_go(const char *gofile)
{
	struct timespec pause = { 0, 200 * 1000 };
	struct stat st;

	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	while (stat(gofile, &st) != 0)
		nanosleep(&pause, NULL);
}

static int exec_storm(long n, const char *gofile, const char *marker, const char *path)
{
	char *argv[] = { "true", (char *)marker, "-a", "b c", NULL };
	char *envp[] = { NULL };
	double t0, t1;

	wait_go(gofile);
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		pid_t pid = vfork();

		if (pid == 0) {
			execve(path, argv, envp);
			_exit(127);
		}
		if (pid < 0) {
			perror("vfork");
			return 1;
		}
		waitpid(pid, NULL, 0);
	}
	t1 = now_s();
	printf("execs=%ld seconds=%.3f execs_per_s=%.0f\n", n, t1 - t0, n / (t1 - t0));
	return 0;
}

/* Query for "<i>.<marker>.bench." type A class IN; returns its length. */
static int make_query(unsigned char *q, long i, const char *marker)
{
	char label[24];
	int n = 12, l;

	memset(q, 0, 12);
	q[0] = (i >> 8) & 0xff;
	q[1] = i & 0xff;
	q[2] = 0x01; /* RD */
	q[5] = 1;
	l = snprintf(label, sizeof label, "%ld", i);
	q[n++] = l;
	memcpy(q + n, label, l);
	n += l;
	l = strlen(marker);
	q[n++] = l;
	memcpy(q + n, marker, l);
	n += l;
	q[n++] = 5;
	memcpy(q + n, "bench", 5);
	n += 5;
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = 1; /* A */
	q[n++] = 0;
	q[n++] = 1; /* IN */
	return n;
}

static int dns_storm(long n, double rate, const char *gofile, const char *marker)
{
	static const unsigned char answer[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9 };
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(53) }, from;
	unsigned char q[512], r[600];
	long answered = 0;
	double t0, t1;
	int s, c;

	srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || c < 0 || bind(s, (struct sockaddr *)&srv, sizeof srv)) {
		perror("dns sockets");
		return 1;
	}
	if (connect(c, (struct sockaddr *)&srv, sizeof srv)) {
		perror("connect");
		return 1;
	}
	wait_go(gofile);
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		socklen_t fl = sizeof from;
		struct pollfd p = { .fd = c, .events = POLLIN };
		int len = make_query(q, i, marker), got;

		if (rate > 0) {
			double due = t0 + i / rate, w = due - now_s();

			if (w > 0) {
				struct timespec ts = { (time_t)w, (long)((w - (time_t)w) * 1e9) };

				nanosleep(&ts, NULL);
			}
		}
		send(c, q, len, 0);
		got = recvfrom(s, r, sizeof r - sizeof answer, 0, (struct sockaddr *)&from, &fl);
		if (got < 12)
			continue;
		r[2] = 0x81;
		r[3] = 0x80;
		r[7] = 1;
		memcpy(r + got, answer, sizeof answer);
		sendto(s, r, got + sizeof answer, 0, (struct sockaddr *)&from, fl);
		if (poll(&p, 1, 1000) == 1 && recv(c, r, sizeof r, 0) > 0)
			answered++;
	}
	t1 = now_s();
	printf("queries=%ld answered=%ld seconds=%.3f queries_per_s=%.0f\n", n, answered, t1 - t0, n / (t1 - t0));
	return 0;
}

int main(int argc, char **argv)
{
	prctl(PR_SET_NAME, "igb_gen", 0, 0, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "exec") == 0)
		return exec_storm(atol(argv[2]), argv[3], argv[4], argc == 6 ? argv[5] : "/bin/true");
	if (argc == 6 && strcmp(argv[1], "dns") == 0)
		return dns_storm(atol(argv[2]), atof(argv[3]), argv[4], argv[5]);
	fprintf(stderr, "usage: gadgetgen exec N GOFILE MARKER [PATH] | gadgetgen dns N RATE GOFILE MARKER\n");
	return 2;
}
