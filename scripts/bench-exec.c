/*
 * bench-exec: the minimal caller of `npm run bench`. It runs every timed
 * process the way a container runtime does (posix_spawn, an explicit small
 * environment, the config on stdin from a file), so the plugin, upstream
 * Multus and the delegates called directly all pay the same exec cost.
 *
 * usage: bench-exec PLAN ROUNDS WARMUP
 *   PLAN lines (one directive a line, fields separated by one tab):
 *     case<TAB>NAME             starts a case
 *     step<TAB>FILE<TAB>STDIN   a process of the case (STDIN: a file, or - for none)
 *     env<TAB>K=V               a variable of the last step's environment
 * Each round runs every case once, in plan order (so load affects all alike).
 * Output, a line per case per round (warm-up rounds are not printed):
 *   NAME<TAB>ROUND<TAB>WALL_US<TAB>CPU_US<TAB>MAXRSS_KB
 * CPU is user+system of the case's processes and their waited-for children
 * (wait4); MAXRSS the largest of them. A step that fails stops the run: its
 * output goes to stderr and the exit code is 1.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 64
#define MAX_ENV 32
#define MAX_CASES 64

struct step {
  char *file, *input;
  char *env[MAX_ENV + 1];
  int nenv;
};
struct bcase {
  char *name;
  struct step steps[MAX_STEPS];
  int nsteps;
};

static struct bcase cases[MAX_CASES];
static int ncases;

static void die(const char *what) {
  perror(what);
  exit(2);
}

static void parse(const char *plan) {
  FILE *f = fopen(plan, "r");
  if (!f) die(plan);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] == '\n') line[n - 1] = 0;
    char *tab = strchr(line, '\t');
    if (!tab) continue;
    *tab = 0;
    char *rest = strdup(tab + 1);
    struct bcase *c = ncases ? &cases[ncases - 1] : NULL;
    if (!strcmp(line, "case")) {
      if (ncases == MAX_CASES) die("too many cases");
      cases[ncases++].name = rest;
    } else if (!strcmp(line, "step") && c) {
      if (c->nsteps == MAX_STEPS) die("too many steps");
      struct step *s = &c->steps[c->nsteps++];
      char *t = strchr(rest, '\t');
      if (!t) die("step needs FILE<TAB>STDIN");
      *t = 0;
      s->file = rest;
      s->input = t + 1;
    } else if (!strcmp(line, "env") && c && c->nsteps) {
      struct step *s = &c->steps[c->nsteps - 1];
      if (s->nenv == MAX_ENV) die("too many variables");
      s->env[s->nenv++] = rest;
    }
  }
  free(line);
  fclose(f);
}

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long tv_us(struct timeval tv) { return tv.tv_sec * 1000000LL + tv.tv_usec; }

static void dump(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) return;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stderr);
  fclose(f);
}

/* One process: stdin from its file, stdout and stderr kept for a failure report. */
static void run_step(struct step *s, const char *out, long long *cpu, long *rss) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, strcmp(s->input, "-") ? s->input : "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  char *argv[] = {s->file, NULL};
  s->env[s->nenv] = NULL;
  pid_t pid;
  int err = posix_spawn(&pid, s->file, &fa, NULL, argv, s->env);
  posix_spawn_file_actions_destroy(&fa);
  if (err) {
    fprintf(stderr, "cannot run %s: %s\n", s->file, strerror(err));
    exit(1);
  }
  int st;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0) die("wait4");
  *cpu += tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
  if (ru.ru_maxrss > *rss) *rss = ru.ru_maxrss;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "%s failed (status %d):\n", s->file, st);
    dump(out);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench-exec PLAN ROUNDS WARMUP\n");
    return 2;
  }
  parse(argv[1]);
  int rounds = atoi(argv[2]), warmup = atoi(argv[3]);
  char out[4096];
  snprintf(out, sizeof out, "%s.out", argv[1]);
  for (int r = -warmup; r < rounds; r++) {
    for (int i = 0; i < ncases; i++) {
      long long cpu = 0;
      long rss = 0;
      long long t0 = now_us();
      for (int k = 0; k < cases[i].nsteps; k++) run_step(&cases[i].steps[k], out, &cpu, &rss);
      long long wall = now_us() - t0;
      if (r >= 0) printf("%s\t%d\t%lld\t%lld\t%ld\n", cases[i].name, r, wall, cpu, rss);
    }
    fflush(stdout);
  }
  unlink(out);
  return 0;
}
