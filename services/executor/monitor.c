/* caisson-monitor: the process that owns one container process's stdio (like podman's conmon).
 *
 * It detaches from whoever spawned it, so the executor and the daemon can die (even by SIGKILL)
 * while the container keeps running and logging, and it records the exit status in DIR/exit
 * where a restarted executor finds it. It is C because it lives as long as the container and a
 * bare Python interpreter already costs more than the per-container memory budget (4 MB PSS).
 * The contract (flags, files, sync lines, attach frames) is documented in monitor.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PIECE 16384               /* docker's json-file: longer lines become partial entries */
#define CLIENT_BACKLOG (1 << 20)  /* an attach client further behind than this is dropped */
#define FRAME_MAX (1 << 20)       /* largest frame a client may send */
#define DRAIN_MS 3000             /* see loop(): how long output may outlive the child */
#define ATTACH_WAIT_MS 60000

enum { F_STDIN, F_STDOUT, F_STDERR, F_RESIZE, F_CLOSE_STDIN, F_EXIT };

static struct {
	const char *dir, *log;
	long long max_size;
	int max_file, tty, console, stdin_, wait_attach, newpid, join_pid, sync_fd;
	unsigned short rows, cols;
} o = {.max_file = 1, .sync_fd = -1};

struct buf { char *p; size_t len, cap; };
struct client { int fd, eof; struct buf in, out; };
struct stream { int fd, type; const char *name; size_t len; char line[PIECE]; };

static struct stream out[2] = {{-1, F_STDOUT, "stdout", 0, {0}}, {-1, F_STDERR, "stderr", 0, {0}}};
static struct client *cl;
static int ncl, capcl, listen_fd = -1, log_fd = -1, master = -1, in_fd = -1, in_close;
static struct buf in_buf; /* client input not yet taken by the child */
static long long log_size;
static pid_t child;
static char entry[PIECE * 6 + 128], tmp[65536];

static int buf_add(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){0};
}

static void buf_consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	if (!b->len && b->cap > 65536) /* a burst must not keep its memory for the container's life */
		buf_free(b);
}

/* The length of the valid UTF-8 sequence at s, 0 when invalid (Go's utf8.DecodeRune rules:
 * no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, lo = c == 0xe0 ? 0xa0 : lo, hi = c == 0xed ? 0x9f : hi;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, lo = c == 0xf0 ? 0x90 : lo, hi = c == 0xf4 ? 0x8f : hi;
	else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return len;
}

/* Escapes like Go's encoding/json (HTML-safe), which docker's json-file writer uses, so our
 * log files are byte-for-byte docker's. d needs room for 6 bytes per input byte. */
static size_t json_escape(char *d, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)src;
	char *start = d;
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if (c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&')
				*d++ = (char)c;
			else if (c == '"' || c == '\\')
				*d++ = '\\', *d++ = (char)c;
			else if (c == '\n' || c == '\r' || c == '\t')
				*d++ = '\\', *d++ = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
			else
				memcpy(d, "\\u00", 4), d += 4, *d++ = hex[c >> 4], *d++ = hex[c & 15];
			i++;
			continue;
		}
		size_t len = utf8_len(s + i, n - i);
		if (!len) {
			memcpy(d, "\\ufffd", 6), d += 6, i++;
			continue;
		}
		if (len == 3 && c == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0xa8 || s[i + 2] == 0xa9))
			memcpy(d, "\\u202", 5), d += 5, *d++ = s[i + 2] == 0xa8 ? '8' : '9';
		else
			memcpy(d, s + i, len), d += len;
		i += len;
	}
	return (size_t)(d - start);
}

/* Go's time.RFC3339Nano in UTC, as docker writes it: trailing zeros of the fraction dropped. */
static size_t rfc3339(char *d)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(d, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts.tv_nsec) {
		n += (size_t)sprintf(d + n, ".%09ld", ts.tv_nsec);
		while (d[n - 1] == '0')
			n--;
	}
	d[n++] = 'Z';
	d[n] = 0;
	return n;
}

static void sync_msg(const char *fmt, ...)
{
	if (o.sync_fd < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vdprintf(o.sync_fd, fmt, ap);
	va_end(ap);
}

/* Readers (monitor.py) must never see a half-written file: write aside, then rename. */
static void atomic_write(const char *name, const char *s, size_t n)
{
	char t[64];
	snprintf(t, sizeof t, "%s.tmp", name);
	int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	ssize_t w = write(fd, s, n);
	close(fd);
	if (w == (ssize_t)n)
		rename(t, name);
}

static void log_rotate(void)
{
	if (o.max_file > 1) { /* docker: PATH.(N-2) -> PATH.(N-1) ... PATH -> PATH.1 */
		char from[PATH_MAX + 16], to[PATH_MAX + 16];
		for (int i = o.max_file - 1; i > 1; i--) {
			snprintf(from, sizeof from, "%s.%d", o.log, i - 1);
			snprintf(to, sizeof to, "%s.%d", o.log, i);
			rename(from, to);
		}
		snprintf(to, sizeof to, "%s.1", o.log);
		rename(o.log, to);
		close(log_fd);
		log_fd = open(o.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	} else if (ftruncate(log_fd, 0)) {
		return;
	}
	log_size = 0;
}

/* One json-file entry, written with one write() so a reader never sees half of one. */
static void log_entry(const char *stream, const char *s, size_t n)
{
	if (log_fd < 0 || !n)
		return;
	size_t len = 8;
	memcpy(entry, "{\"log\":\"", 8);
	len += json_escape(entry + len, s, n);
	len += (size_t)sprintf(entry + len, "\",\"stream\":\"%s\",\"time\":\"", stream);
	len += rfc3339(entry + len);
	memcpy(entry + len, "\"}\n", 3);
	len += 3;
	if (o.max_size > 0 && log_size > 0 && log_size + (long long)len > o.max_size)
		log_rotate();
	ssize_t w = log_fd >= 0 ? write(log_fd, entry, len) : -1;
	if (w > 0)
		log_size += w;
}

/* Splits output into docker's entries: one per line (the newline kept), PIECE bytes at most. */
static void stream_data(struct stream *st, const char *s, size_t n)
{
	while (n) {
		const char *nl = memchr(s, '\n', n);
		size_t take = nl ? (size_t)(nl - s) + 1 : n;
		if (take > PIECE - st->len)
			take = PIECE - st->len;
		memcpy(st->line + st->len, s, take);
		st->len += take, s += take, n -= take;
		if (st->line[st->len - 1] == '\n' || st->len == PIECE) {
			log_entry(st->name, st->line, st->len);
			st->len = 0;
		}
	}
}

static void client_drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
}

static void client_flush(struct client *c)
{
	while (c->fd >= 0 && c->out.len) {
		ssize_t w = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0)
			client_drop(c);
		else
			buf_consume(&c->out, (size_t)w);
	}
}

/* Queues a frame; the loop never waits for a client, a client too far behind is dropped. */
static void client_send(struct client *c, int type, const char *s, size_t n)
{
	unsigned char h[8] = {(unsigned char)type, 0, 0, 0, (unsigned char)(n >> 24),
			      (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
	if (c->fd < 0)
		return;
	if (buf_add(&c->out, h, 8) || buf_add(&c->out, s, n)) {
		client_drop(c);
		return;
	}
	client_flush(c);
	if (c->fd >= 0 && c->out.len > CLIENT_BACKLOG)
		client_drop(c);
}

static void client_accept(void)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (ncl == capcl) {
		struct client *p = realloc(cl, sizeof *cl * (size_t)(capcl ? capcl * 2 : 4));
		if (!p) {
			close(fd);
			return;
		}
		cl = p, capcl = capcl ? capcl * 2 : 4;
	}
	cl[ncl++] = (struct client){.fd = fd};
}

/* The child's stdin is gone (it closed it, or exited): input has nowhere to go. */
static void stdin_shut(void)
{
	buf_free(&in_buf);
	if (in_fd >= 0 && in_fd != master)
		close(in_fd);
	in_fd = -1;
}

static void stdin_flush(void)
{
	while (in_fd >= 0 && in_buf.len) {
		ssize_t w = write(in_fd, in_buf.p, in_buf.len);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w < 0) {
			stdin_shut();
			return;
		}
		buf_consume(&in_buf, (size_t)w);
	}
	if (in_close)
		stdin_shut();
}

static void client_frame(int type, const unsigned char *p, size_t n)
{
	if (type == F_STDIN && in_fd >= 0 && !in_close) {
		if (!buf_add(&in_buf, p, n))
			stdin_flush();
	} else if (type == F_RESIZE && master >= 0 && n >= 4) {
		struct winsize ws = {.ws_row = (unsigned short)(p[0] << 8 | p[1]),
				     .ws_col = (unsigned short)(p[2] << 8 | p[3])};
		ioctl(master, TIOCSWINSZ, &ws);
	} else if (type == F_CLOSE_STDIN && in_fd >= 0 && !in_close) {
		if (o.tty) { /* a terminal has no half-close: ^D ends input for a reader in cooked mode */
			if (!buf_add(&in_buf, "\x04", 1))
				stdin_flush();
		} else {
			in_close = 1;
			stdin_flush();
		}
	}
}

/* Reads what the client sent (all of it: a client may send and close at once), unless the
 * child lags behind its input: then the rest waits in the socket. */
static void client_read(struct client *c)
{
	while (c->fd >= 0 && !c->eof && in_buf.len < FRAME_MAX) {
		ssize_t n = read(c->fd, tmp, sizeof tmp);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0) /* it sends nothing more but may still read: keep it until it goes away */
			c->eof = 1;
		if (n < 0 || (n > 0 && buf_add(&c->in, tmp, (size_t)n))) {
			client_drop(c);
			return;
		}
		while (c->in.len >= 8) {
			const unsigned char *h = (const unsigned char *)c->in.p;
			size_t len = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
			if (len > FRAME_MAX) {
				client_drop(c);
				return;
			}
			if (c->in.len < 8 + len)
				break;
			client_frame(h[0], h + 8, len);
			buf_consume(&c->in, 8 + len);
		}
	}
}

static void stream_read(struct stream *st)
{
	ssize_t n = read(st->fd, tmp, sizeof tmp);
	if (n > 0) {
		for (int i = 0; i < ncl; i++)
			client_send(&cl[i], st->type, tmp, (size_t)n);
		stream_data(st, tmp, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF, or EIO on a pty master: every writer of the slave is gone */
	if (st->fd == master)
		stdin_shut(), master = -1;
	close(st->fd);
	st->fd = -1;
}

/* The end, started or not: the exit file first (a client told "exit" may read it), then the
 * exit frame to every client, then nothing of the monitor is left but the files. `e` is the
 * error, JSON-escaped. */
static void finish(int code, int sig, int started, const char *e)
{
	static char json[8192], t[48];
	for (int i = 0; i < 2 && started; i++)
		log_entry(out[i].name, out[i].line, out[i].len); /* a last line with no newline */
	rfc3339(t);
	int len = snprintf(json, sizeof json,
			   "{\"exit_code\":%d,\"signal\":%d,\"started\":%s,\"finished_at\":\"%s\","
			   "\"error\":\"%s\"}",
			   code, sig, started ? "true" : "false", t, e);
	atomic_write("exit", json, (size_t)len);
	struct timeval tv = {1, 0}; /* a stuck client gets one second to take its last bytes */
	for (int i = 0; i < ncl; i++) {
		if (cl[i].fd < 0)
			continue;
		fcntl(cl[i].fd, F_SETFL, 0);
		setsockopt(cl[i].fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		client_send(&cl[i], F_EXIT, json, (size_t)len);
		if (cl[i].fd >= 0)
			close(cl[i].fd);
	}
	unlink("attach.sock");
	if (!started) /* last: the spawner finds everything as it will stay */
		sync_msg("{\"event\":\"failed\",\"exit_code\":%d,\"error\":\"%s\"}\n", code, e);
	exit(0);
}

static void fail(const char *what)
{
	char msg[512], e[sizeof msg * 6];
	snprintf(msg, sizeof msg, "caisson-monitor: %s: %s", what, strerror(errno));
	e[json_escape(e, msg, strlen(msg))] = 0;
	finish(125, 0, 0, e);
}

/* The init's failure line, {"error":"...","exit_code":N}, keys in any order. The error stays
 * escaped as the init wrote it (a JSON string is what it is written into), minus what would
 * break that string: raw control characters and broken escapes. */
static void parse_failure(const char *line, int *code, char *e, size_t cap)
{
	const char *p = strstr(line, "\"exit_code\"");
	size_t n = 0;
	*code = p && (p = strchr(p + 11, ':')) ? (int)strtol(p + 1, NULL, 10) : 125;
	p = strstr(line, "\"error\"");
	if (p && (p = strchr(p + 7, ':')) && (p = strchr(p, '"')))
		for (p++; *p && *p != '"'; p++) {
			size_t len = *p != '\\' ? 1 : p[1] == 'u' ? 6 : 2;
			if ((unsigned char)*p < 0x20 ||
			    (len == 6 && strspn(p + 2, "0123456789abcdefABCDEF") < 4) ||
			    (len == 2 && (!p[1] || !strchr("\"\\/bfnrt", p[1]))))
				continue;
			if (n + len >= cap)
				break;
			memcpy(e + n, p, len);
			n += len, p += len - 1;
		}
	e[n] = 0;
}

/* In the forked child: stdio, fd 3 for the start handshake, then the process itself. */
static void child_exec(char **argv, const char *cwd, int in, int outw, int errw, int syncw)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* ignored signals stay ignored across execve: give the container the defaults back;
	 * glibc refuses to touch the two it reserves (32, 33), so those through the kernel */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	struct { void (*handler)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; }
		dfl = {SIG_DFL, 0, NULL, 0};
	for (int sig = 32; sig < SIGRTMIN; sig++)
		syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
	setsid();
	if (o.tty && !o.console)
		ioctl(outw, TIOCSCTTY, 0);
	if ((in >= 0 && dup2(in, 0) < 0) || dup2(outw, 1) < 0 || dup2(errw, 2) < 0 ||
	    (syncw == 3 ? fcntl(3, F_SETFD, 0) : dup2(syncw, 3)) < 0)
		_exit(125);
	setenv("CAISSON_SYNC_FD", "3", 1);
	if (chdir(cwd))
		_exit(125);
	execv(argv[0], argv);
	int err = errno, code = err == ENOENT ? 127 : 126;
	static char e[PATH_MAX * 6];
	size_t n = strlen(argv[0]);
	e[json_escape(e, argv[0], n > PATH_MAX ? PATH_MAX : n)] = 0;
	dprintf(3, "{\"error\":\"exec %s: %s\",\"exit_code\":%d}\n", e, strerror(err), code);
	_exit(code);
}

static void nonblock(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* read(), and with --console also the descriptor a message may carry (SCM_RIGHTS). */
static ssize_t sync_read(int fd, char *p, size_t n, int *passed)
{
	if (!o.console)
		return read(fd, p, n);
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } c;
	struct iovec iov = {.iov_base = p, .iov_len = n};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
			   .msg_controllen = sizeof c.b};
	ssize_t r = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	struct cmsghdr *h = r > 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS)
		memcpy(passed, CMSG_DATA(h), sizeof(int));
	return r;
}

/* The pty master the container made: output comes from it, input goes to it. */
static void take_console(int fd)
{
	if (master >= 0 || !o.tty) {
		close(fd);
		return;
	}
	master = out[0].fd = fd;
	in_fd = o.stdin_ ? master : -1;
	struct winsize ws = {.ws_row = o.rows, .ws_col = o.cols};
	if (o.rows && o.cols)
		ioctl(master, TIOCSWINSZ, &ws);
	nonblock(master);
}

static void start_child(char **argv, const char *cwd)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1}, syncp[2], slave = -1;
	/* --console: the container makes its terminal itself, in its own devpts (a pty of the
	 * host's devpts is no terminal to the programs inside: ttyname, stty fail), and sends the
	 * master back on fd 3, which must then be a socket to carry it (SCM_RIGHTS) */
	if (o.console ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, syncp)
		      : pipe2(syncp, O_CLOEXEC))
		fail("pipe");
	if (o.console) {
		/* until the container's init has its terminal, its stdio is /dev/null */
		if ((slave = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
			fail("open /dev/null");
	} else if (o.tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) || unlockpt(master))
			fail("posix_openpt");
		const char *name = ptsname(master);
		/* opened here, not in the child: the slave is never without a holder while the child
		 * lives, so an early EIO on the master cannot be mistaken for the end */
		if (!name || (slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
			fail("open pty slave");
		struct winsize ws = {.ws_row = o.rows, .ws_col = o.cols};
		if (o.rows && o.cols)
			ioctl(master, TIOCSWINSZ, &ws);
		out[0].fd = master;
		in_fd = o.stdin_ ? master : -1;
	} else {
		if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) ||
		    (o.stdin_ && pipe2(inp, O_CLOEXEC)))
			fail("pipe");
		out[0].fd = outp[0], out[1].fd = errp[0], in_fd = inp[1];
	}
	if (o.join_pid) {
		char ns[64];
		snprintf(ns, sizeof ns, "/proc/%d/ns/pid", o.join_pid);
		int fd = open(ns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWPID))
			fail("join the pid namespace");
		close(fd);
	}
	if (o.newpid && unshare(CLONE_NEWPID))
		fail("unshare the pid namespace");
	child = fork();
	if (child < 0)
		fail("fork");
	if (child == 0)
		child_exec(argv, cwd, o.tty ? slave : inp[0], o.tty ? slave : outp[1],
			   o.tty ? slave : errp[1], syncp[1]);
	int ends[] = {slave, inp[0], outp[1], errp[1], syncp[1]};
	for (size_t i = 0; i < sizeof ends / sizeof *ends; i++)
		if (ends[i] >= 0)
			close(ends[i]);
	nonblock(out[0].fd), nonblock(out[1].fd), nonblock(in_fd);
	/* EOF without a word: the final execve closed fd 3, the process runs */
	static char line[4096], msg[2048];
	size_t got = 0;
	for (ssize_t r; got < sizeof line - 1; got += (size_t)r) {
		int fd = -1;
		if ((r = sync_read(syncp[0], line + got, sizeof line - 1 - got, &fd)) <= 0) {
			if (r < 0 && errno == EINTR) {
				r = 0;
				continue;
			}
			break;
		}
		if (fd >= 0) { /* the console's master; its one-byte carrier is not a message */
			take_console(fd);
			r = 0;
		}
	}
	close(syncp[0]);
	if (got) {
		int code, st;
		line[got] = 0;
		parse_failure(line, &code, msg, sizeof msg);
		kill(child, SIGKILL); /* it reported a failure: nothing of it may go on running */
		waitpid(child, &st, 0);
		finish(code, 0, 0, msg);
	}
	sync_msg("{\"event\":\"started\",\"pid\":%d}\n", child);
	close(o.sync_fd);
	o.sync_fd = -1;
}

static void loop(int sfd)
{
	struct pollfd *pf = NULL;
	int status = 0, exited = 0;
	struct timespec now, end = {0};
	for (;;) {
		if (exited && out[0].fd < 0 && out[1].fd < 0)
			break;
		int n = ncl;
		/* Leaving the loop means recording an exit: a failure here only retries (the child
		 * still runs, its exit is still to come). */
		struct pollfd *p = realloc(pf, sizeof *pf * (size_t)(5 + n));
		if (!p) {
			usleep(10000);
			continue;
		}
		pf = p;
		pf[0] = (struct pollfd){sfd, POLLIN, 0};
		pf[1] = (struct pollfd){listen_fd, POLLIN, 0};
		pf[2] = (struct pollfd){out[0].fd, POLLIN, 0};
		pf[3] = (struct pollfd){out[1].fd, POLLIN, 0};
		pf[4] = (struct pollfd){in_buf.len ? in_fd : -1, POLLOUT, 0};
		for (int i = 0; i < n; i++) /* input waits in the socket while the child lags behind */
			pf[5 + i] = (struct pollfd){cl[i].fd,
						    (short)((in_buf.len < FRAME_MAX && !cl[i].eof ? POLLIN : 0) |
							    (cl[i].out.len ? POLLOUT : 0)),
						    0};
		int timeout = -1;
		if (exited) {
			/* A process outside a pid namespace of its own (an exec) may leave children
			 * holding the output open: wait for them a little, not forever. */
			clock_gettime(CLOCK_MONOTONIC, &now);
			long long ms = (end.tv_sec - now.tv_sec) * 1000LL +
				       (end.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0)
				break;
			timeout = (int)ms;
		}
		if (poll(pf, (nfds_t)(5 + n), timeout) < 0) {
			if (errno != EINTR)
				usleep(10000);
			continue;
		}
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			for (pid_t w; (w = waitpid(-1, &status, WNOHANG)) > 0;)
				if (w == child && !exited) {
					exited = 1;
					clock_gettime(CLOCK_MONOTONIC, &end);
					end.tv_sec += DRAIN_MS / 1000;
					stdin_shut();
				}
		}
		for (int i = 0; i < 2; i++)
			if (out[i].fd >= 0 && pf[2 + i].revents)
				stream_read(&out[i]);
		if (pf[4].revents)
			stdin_flush();
		for (int i = 0; i < n; i++) {
			short ev = pf[5 + i].revents;
			if (cl[i].fd >= 0 && (ev & POLLOUT))
				client_flush(&cl[i]);
			if (ev & (POLLIN | POLLHUP | POLLERR))
				client_read(&cl[i]);
			if (cl[i].fd >= 0 && (ev & (POLLHUP | POLLERR))) /* gone both ways */
				client_drop(&cl[i]);
		}
		int k = 0;
		for (int i = 0; i < ncl; i++)
			if (cl[i].fd >= 0)
				cl[k++] = cl[i];
		ncl = k;
		if (pf[1].revents & POLLIN)
			client_accept();
	}
	int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	finish(sig ? 128 + sig : WEXITSTATUS(status), sig, 1, "");
}

static void usage(const char *why)
{
	fprintf(stderr,
		"caisson-monitor: %s\nusage: caisson-monitor --dir DIR [--log PATH [--log-max-size B]"
		" [--log-max-file N]] [--tty [--console] [--tty-size RxC]] [--stdin] [--wait-attach] [--newpid |"
		" --join-pid PID] [--sync-fd N] [--hold-fd N]... -- PATH [ARG...]\n",
		why);
	exit(2);
}

/* Descriptors the monitor keeps open for the container's life and closes with it: the host
 * ports published for it, bound so that nothing else takes them while it runs. */
#define MAX_HOLD 256
static int hold[MAX_HOLD], nhold;

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Closes every descriptor from 3 up except `keep` (sorted, each >= 3). */
static void close_all_but(const int *keep, int n)
{
	unsigned from = 3;
	for (int k = 0; k < n; k++) {
		if ((unsigned)keep[k] > from)
			close_range(from, (unsigned)keep[k] - 1, 0);
		from = (unsigned)keep[k] + 1;
	}
	close_range(from, ~0U, 0);
}

/* The options before "--"; returns the index of "--". */
static int parse_args(int argc, char **argv)
{
	struct { const char *name; int *flag; } flags[] = {
		{"--tty", &o.tty}, {"--console", &o.console}, {"--stdin", &o.stdin_},
		{"--wait-attach", &o.wait_attach}, {"--newpid", &o.newpid}};
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i], *v = argv[i + 1]; /* argv[argc] is NULL */
		size_t k = 0;
		while (k < sizeof flags / sizeof *flags && strcmp(a, flags[k].name))
			k++;
		if (k < sizeof flags / sizeof *flags) {
			*flags[k].flag = 1;
			continue;
		}
		if (!v)
			usage("an option lacks its value");
		i++;
		if (!strcmp(a, "--dir"))
			o.dir = v;
		else if (!strcmp(a, "--log"))
			o.log = v;
		else if (!strcmp(a, "--log-max-size"))
			o.max_size = atoll(v);
		else if (!strcmp(a, "--log-max-file"))
			o.max_file = atoi(v);
		else if (!strcmp(a, "--join-pid"))
			o.join_pid = atoi(v);
		else if (!strcmp(a, "--sync-fd"))
			o.sync_fd = atoi(v);
		else if (!strcmp(a, "--hold-fd") && nhold < MAX_HOLD)
			hold[nhold++] = atoi(v);
		else if (strcmp(a, "--tty-size") || sscanf(v, "%hux%hu", &o.rows, &o.cols) != 2)
			usage("unknown option or bad --tty-size (ROWSxCOLS)");
	}
	return i;
}

int main(int argc, char **argv)
{
	int i = parse_args(argc, argv);
	char **cmd = argv + i + 1;
	if (i >= argc || !*cmd)
		usage("no command after --");
	if (!o.dir)
		usage("--dir is required");
	if (o.max_file < 1 || o.max_size < 0 || (o.sync_fd >= 0 && o.sync_fd < 3))
		usage("bad --log-max-file, --log-max-size or --sync-fd");
	if (o.console && !o.tty)
		usage("--console needs --tty");
	if (o.sync_fd >= 0 && fcntl(o.sync_fd, F_SETFD, FD_CLOEXEC))
		usage("--sync-fd is not an open descriptor");
	static char cwd[PATH_MAX], logpath[PATH_MAX * 2 + 2];
	if (!getcwd(cwd, sizeof cwd))
		strcpy(cwd, "/");
	if (o.log && o.log[0] != '/') /* the monitor works from DIR: keep the path the caller meant */
		snprintf(logpath, sizeof logpath, "%s/%s", cwd, o.log), o.log = logpath;
	/* Working from DIR keeps attach.sock's address short whatever DIR's length (sun_path is
	 * 108 bytes) and makes every file name below relative. */
	if (chdir(o.dir)) {
		fprintf(stderr, "caisson-monitor: --dir %s: %s\n", o.dir, strerror(errno));
		return 2;
	}
	/* Hold none of the spawner's other descriptors: a pipe it waits on would never see EOF.
	 * The held ones are close-on-exec: the container's process must not get them. */
	int keep[MAX_HOLD + 1], nkeep = 0;
	for (int k = 0; k < nhold; k++) {
		if (hold[k] < 3 || fcntl(hold[k], F_SETFD, FD_CLOEXEC))
			usage("--hold-fd is not an open descriptor above 2");
		keep[nkeep++] = hold[k];
	}
	if (o.sync_fd >= 3)
		keep[nkeep++] = o.sync_fd;
	qsort(keep, (size_t)nkeep, sizeof *keep, cmp_int);
	close_all_but(keep, nkeep);
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		return 2;
	if (null > 2)
		close(null);
	/* Out of the spawner's session, then not a session leader (no terminal can become ours);
	 * the spawner reaps this first process at once and the monitor is orphaned. */
	setsid();
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid > 0)
		_exit(0);
	/* It ends only when its child does: signals meant for a session or a process group (the
	 * daemon's terminal closing, ^C) must not take the container's stdio with them. */
	int ignored[] = {SIGHUP, SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGTTIN, SIGTTOU};
	for (size_t k = 0; k < sizeof ignored / sizeof *ignored; k++)
		signal(ignored[k], SIG_IGN);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	unlink("exit"); /* a status left by a previous run of this container is not ours */
	char pidline[32];
	atomic_write("monitor.pid", pidline, (size_t)snprintf(pidline, sizeof pidline, "%d\n", getpid()));
	if (sfd < 0)
		fail("signalfd");
	if (o.log) {
		struct stat st;
		log_fd = open(o.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (log_fd < 0 || fstat(log_fd, &st))
			fail("open the log");
		log_size = st.st_size;
	}
	struct sockaddr_un addr = {.sun_family = AF_UNIX, .sun_path = "attach.sock"};
	unlink("attach.sock");
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) ||
	    listen(listen_fd, 64))
		fail("attach.sock");
	sync_msg("{\"event\":\"listening\",\"pid\":%d}\n", getpid());
	if (o.wait_attach) {
		struct pollfd p = {listen_fd, POLLIN, 0};
		while (poll(&p, 1, ATTACH_WAIT_MS) < 0 && errno == EINTR)
			;
		if (p.revents & POLLIN)
			client_accept();
	}
	start_child(cmd, cwd);
	loop(sfd);
	return 0;
}
