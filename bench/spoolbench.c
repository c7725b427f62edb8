/*
 * spoolbench.c - requests through ssprd's spool, timed: a front end that
 * does nothing but send and collect. The "e" of bench/e2e.
 *
 *   spoolbench -q QUEUE -f REQUESTS [-t TAG] [-w WINDOW] [-p PID]
 *              [-s PID] [-o ANSWERS] [-T SECONDS]
 *
 * REQUESTS holds one JSON request a line. Request i (from 0) is sent under
 * the ID TAG-i. All are first written to QUEUE/tmp/ (not timed); then, with
 * WINDOW 0 (the default), all are renamed into new/ at once, as a burst of
 * front ends would; with WINDOW W, W at a time, the next one renamed as
 * each answer arrives (W users waiting at their screens). Answers are seen
 * through inotify on out/ (a scan of out/ after a queue overflow), read,
 * checked for "status":"ok" and removed, as a front end does.
 *
 * -p PID is ssprd: its CPU time (utime + stime) over the run and its peak
 * RSS during the run (the kernel's high-water mark, reset through
 * /proc/PID/clear_refs when allowed, else the highest of samples taken
 * every 5 ms) are reported. -s PID is the directory server: its CPU time.
 * -o ANSWERS appends "i ANSWER" lines, for a script that prepares tickets.
 * -T SECONDS gives up after that long without an answer (default 120).
 *
 * Prints one line:
 *   requests=N seconds=S rate=R ok=K errors=E p50_ms=.. p99_ms=.. max_ms=..
 *   send_ms=.. window=W daemon_cpu_us=.. server_cpu_us=.. rss_idle_kb=..
 *   rss_peak_kb=.. first_error=REASON
 * from the first rename to the last answer; latency is per request, from
 * its rename into new/ to its answer's appearance in out/. send_ms is how
 * long renaming the first batch took. *_cpu_us are per request. Exit
 * status 0 when every request was answered (errors are counted), 1 when
 * not, 2 on usage errors. It never judges the figures.
 */
#include "build.h"

#include <sys/inotify.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"

#define ANSWER_MAX	65536
#define SAMPLE_MS	5

static const char *tag = "e";
static unsigned long n, window, sent, answered, oks;
static double *t_sent, *latency;
static bool *seen;
static int dtmp = -1, dnew = -1, dout = -1;
static FILE *answers_out;
static char first_error[64];
static pid_t daemon_pid;
static bool hwm_reset;
static long rss_max;

static void
die(const char *what)
{
	fprintf(stderr, "spoolbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A field "Key:  NNN kB" of /proc/PID/status, or -1. */
static long
status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* utime + stime of PID in seconds, or -1. */
static double
cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t len;
	int fd;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	/* The name may hold spaces and parentheses: count from the last. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
sample_rss(void)
{
	long v;

	if (daemon_pid > 0 && !hwm_reset &&
	    (v = status_kb(daemon_pid, "VmRSS")) > rss_max)
		rss_max = v;
}

static void
send_one(unsigned long i)
{
	char name[128];

	snprintf(name, sizeof(name), "%s-%lu.json", tag, i);
	t_sent[i] = bench_now();
	if (renameat(dtmp, name, dnew, name) == -1)
		die(name);
	sent++;
}

/* Collect out/NAME if it is one of ours. */
static void
collect(const char *name, double t)
{
	char buf[ANSWER_MAX + 1], *p;
	size_t plen = strlen(tag);
	unsigned long i;
	ssize_t len;
	int fd;

	if (strncmp(name, tag, plen) != 0 || name[plen] != '-')
		return;
	errno = 0;
	i = strtoul(name + plen + 1, &p, 10);
	if (errno != 0 || strcmp(p, ".json") != 0 || i >= n || seen[i] ||
	    i >= sent)
		return;
	if ((fd = openat(dout, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return;
		die(name);
	}
	len = read(fd, buf, ANSWER_MAX);
	close(fd);
	if (len < 0)
		die(name);
	buf[len] = '\0';
	seen[i] = true;
	latency[answered++] = t - t_sent[i];
	if (strstr(buf, "\"status\":\"ok\"") != NULL)
		oks++;
	else if (first_error[0] == '\0' &&
	    (p = strstr(buf, "\"reason\":\"")) != NULL)
		snprintf(first_error, sizeof(first_error), "%.*s",
		    (int)strcspn(p + 10, "\""), p + 10);
	if (answers_out != NULL)
		fprintf(answers_out, "%lu %s\n", i, buf);
	if (unlinkat(dout, name, 0) == -1)
		die(name);
	if (window > 0 && sent < n)
		send_one(sent);
}

/* After an inotify overflow: whatever is in out/. */
static void
scan_out(void)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dup(dout)) == -1 || (d = fdopendir(fd)) == NULL)
		die("out/");
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		collect(de->d_name, bench_now());
	closedir(d);
}

static void
usage(void)
{
	fprintf(stderr, "usage: spoolbench -q QUEUE -f REQUESTS [-t TAG] "
	    "[-w WINDOW] [-p PID] [-s PID] [-o ANSWERS] [-T SECONDS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *queue = NULL, *file = NULL, *out_path = NULL;
	char *line = NULL, name[128], path[PATH_MAX];
	char evbuf[65536] __attribute__((aligned(8)));
	double t0, t_send, t_last, quiet = 120, d_cpu0, d_cpu1, s_cpu0, s_cpu1;
	size_t cap = 0, nalloc = 0;
	pid_t server_pid = 0;
	struct stat tmp_st;
	long rss_idle;
	ssize_t len;
	FILE *f;
	int c, ino, fd;

	while ((c = getopt(argc, argv, "f:o:p:q:s:t:T:w:")) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'o': out_path = optarg; break;
		case 'p': daemon_pid = (pid_t)atol(optarg); break;
		case 'q': queue = optarg; break;
		case 's': server_pid = (pid_t)atol(optarg); break;
		case 't': tag = optarg; break;
		case 'T': quiet = atof(optarg); break;
		case 'w': window = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (queue == NULL || file == NULL || optind != argc || quiet <= 0 ||
	    strlen(tag) > 40 || strspn(tag, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(tag))
		usage();

	snprintf(path, sizeof(path), "%s/tmp", queue);
	if ((dtmp = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die(path);
	snprintf(path, sizeof(path), "%s/new", queue);
	if ((dnew = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die(path);
	snprintf(path, sizeof(path), "%s/out", queue);
	if ((dout = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die(path);
	if (out_path != NULL && (answers_out = fopen(out_path, "a")) == NULL)
		die(out_path);

	/* Every request into tmp/, group-readable: ssprd reads through it.
	 * tmp/ is setgid when the queue has its own group; run as root, give
	 * the files tmp/'s group in any case, as a front end in it would. */
	if (fstat(dtmp, &tmp_st) == -1)
		die("tmp/");
	if ((f = fopen(file, "r")) == NULL)
		die(file);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0)
			continue;
		snprintf(name, sizeof(name), "%s-%lu.json", tag, n);
		fd = openat(dtmp, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC,
		    0640);
		if (fd == -1 || fchmod(fd, 0640) == -1 ||
		    (getuid() == 0 && fchown(fd, (uid_t)-1, tmp_st.st_gid) == -1) ||
		    write(fd, line, (size_t)len) != len || close(fd) == -1)
			die(name);
		n++;
	}
	free(line);
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "spoolbench: %s: no requests\n", file);
		return 2;
	}
	nalloc = n;
	t_sent = calloc(nalloc, sizeof(*t_sent));
	latency = calloc(nalloc, sizeof(*latency));
	seen = calloc(nalloc, sizeof(*seen));
	if (t_sent == NULL || latency == NULL || seen == NULL)
		die("memory");

	snprintf(path, sizeof(path), "%s/out", queue);
	if ((ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(ino, path, IN_MOVED_TO) == -1)
		die("inotify");

	rss_idle = daemon_pid > 0 ? status_kb(daemon_pid, "VmRSS") : -1;
	if (daemon_pid > 0) {
		/* "5" resets the peak RSS; only the owner or root may. */
		snprintf(path, sizeof(path), "/proc/%ld/clear_refs",
		    (long)daemon_pid);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1) {
			hwm_reset = write(fd, "5", 1) == 1;
			close(fd);
		}
		rss_max = rss_idle;
	}
	d_cpu0 = cpu_seconds(daemon_pid);
	s_cpu0 = cpu_seconds(server_pid);

	t0 = bench_now();
	for (unsigned long i = 0; i < n && (window == 0 || i < window); i++)
		send_one(i);
	t_send = bench_now() - t0;
	t_last = bench_now();
	scan_out();	/* answers that came before the watch saw them */

	while (answered < n) {
		struct pollfd pfd = { .fd = ino, .events = POLLIN };
		int r = poll(&pfd, 1, SAMPLE_MS);
		double t = bench_now();

		sample_rss();
		if (r == -1 && errno != EINTR)
			die("poll");
		if (r <= 0) {
			if (t - t_last > quiet) {
				fprintf(stderr, "spoolbench: no answer for %.0f s;"
				    " %lu of %lu answered\n", quiet, answered, n);
				break;
			}
			continue;
		}
		while ((len = read(ino, evbuf, sizeof(evbuf))) > 0) {
			for (char *p = evbuf; p < evbuf + len;) {
				struct inotify_event *ev = (void *)p;

				if (ev->mask & IN_Q_OVERFLOW)
					scan_out();
				else if (ev->len > 0)
					collect(ev->name, t);
				p += sizeof(*ev) + ev->len;
			}
		}
		if (len == -1 && errno != EAGAIN && errno != EINTR)
			die("inotify read");
		t_last = t;
	}
	t_last = bench_now();
	d_cpu1 = cpu_seconds(daemon_pid);
	s_cpu1 = cpu_seconds(server_pid);
	if (daemon_pid > 0 && hwm_reset)
		rss_max = status_kb(daemon_pid, "VmHWM");
	if (answers_out != NULL)
		fclose(answers_out);

	bench_sort(latency, answered);
	printf("requests=%lu seconds=%.3f rate=%.1f ok=%lu errors=%lu "
	    "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f send_ms=%.2f window=%lu "
	    "daemon_cpu_us=%.1f server_cpu_us=%.1f rss_idle_kb=%ld "
	    "rss_peak_kb=%ld first_error=%s\n",
	    answered, t_last - t0, (double)answered / (t_last - t0), oks,
	    answered - oks, bench_percentile(latency, answered, 0.50) * 1e3, bench_percentile(latency, answered, 0.99) * 1e3, bench_percentile(latency, answered, 1.0) * 1e3, t_send * 1e3,
	    window,
	    d_cpu0 >= 0 && d_cpu1 >= 0 ? (d_cpu1 - d_cpu0) * 1e6 / (double)n : -1,
	    s_cpu0 >= 0 && s_cpu1 >= 0 ? (s_cpu1 - s_cpu0) * 1e6 / (double)n : -1,
	    rss_idle, rss_max, first_error[0] ? first_error : "-");
	return answered == n ? 0 : 1;
}
