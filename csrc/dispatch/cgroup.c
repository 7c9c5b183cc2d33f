/* The CPU bandwidth and the memory a Linux control group grants this process.
 * A container started with `--cpus=2` or a Kubernetes CPU limit on a 64-CPU
 * host still has all 64 CPUs in its affinity mask, and a pool of 64 threads
 * there shares the time of two, spinning and being throttled by turns (as Go's
 * GOMAXPROCS, the JVM and Rust's available_parallelism, fastconv takes the
 * quota as a CPU count). A container started with `--memory=2g` on a 256 GiB
 * host sees 256 GiB as the physical memory; the blocks fastconv keeps for its
 * large results take their default limit from the smaller of the two.
 *
 * The process's cgroup comes from /proc/self/cgroup ("0::/path" in the
 * unified v2 hierarchy, "n:cpu,cpuacct:/path" in a v1 one with the
 * controller), the hierarchy's mount from /proc/self/mountinfo (its root, as
 * a cgroup namespace or a bind mount shows only part of it, and its mount
 * point). From that cgroup up to the mount point every level may set a limit;
 * the smallest is the answer. CPU: v2 cpu.max, "quota period" or "max
 * period"; v1 cpu.cfs_quota_us, -1 for none, over cpu.cfs_period_us; rounded
 * up to whole CPUs. Memory: v2 memory.max, bytes or "max"; v1
 * memory.limit_in_bytes, where "none" is a number near 2^63. Both hierarchies
 * are read where both are mounted (a hybrid system). Every file is read a
 * bounded line at a time; whatever cannot be read or parsed counts as no
 * limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastconv/fastconv.h"

enum {
  FC_CG_LINE = 4096,      /* longest line read; longer ones are skipped */
  FC_CG_MAX_LINES = 8192, /* lines read from one file */
  FC_CG_PATH = 4096,
  FC_CG_DEPTH = 64 /* levels walked up */
};

#if defined(__linux__)
/* The next line of f into buf without its newline: 1; 0 at the end; -1 for a
 * line too long for buf (skipped to its end). */
static int fc_cg_line(FILE *f, char *buf) {
  if (!fgets(buf, FC_CG_LINE, f)) return 0;
  const size_t n = strlen(buf);
  if (n > 0 && buf[n - 1] == '\n') {
    buf[n - 1] = '\0';
    return 1;
  }
  if (feof(f)) return 1; /* the last line, without a newline */
  int ch;
  while ((ch = fgetc(f)) != EOF && ch != '\n') {
  }
  return -1;
}

/* The next line of f that fits buf: 1; 0 at the end or after FC_CG_MAX_LINES
 * lines (*lines counts them). */
static int fc_cg_next(FILE *f, char *buf, int *lines) {
  int r;
  while (*lines < FC_CG_MAX_LINES && (r = fc_cg_line(f, buf)) != 0) {
    ++*lines;
    if (r > 0) return 1;
  }
  return 0;
}

static FILE *fc_cg_open(const char *root, const char *path) {
  char full[2 * FC_CG_PATH];
  if ((size_t)snprintf(full, sizeof full, "%s%s", root, path) >= sizeof full) return NULL;
  return fopen(full, "r");
}

/* Whether `item` is one of the comma-separated items of list[0, len). */
static int fc_cg_has_item(const char *list, size_t len, const char *item) {
  const size_t k = strlen(item);
  for (size_t i = 0; i <= len;) {
    size_t j = i;
    while (j < len && list[j] != ',') j++;
    if (j - i == k && strncmp(list + i, item, k) == 0) return 1;
    i = j + 1;
  }
  return 0;
}

/* This process's cgroup path in the v2 hierarchy (v2 = 1) or in the v1
 * hierarchy of controller `ctl` (v2 = 0): 1, or 0 if there is none. */
static int fc_cg_own_path(const char *root, int v2, const char *ctl, char *path) {
  FILE *f = fc_cg_open(root, "/proc/self/cgroup");
  if (!f) return 0;
  char line[FC_CG_LINE];
  int found = 0, lines = 0;
  while (!found && fc_cg_next(f, line, &lines)) {
    char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
    if (!b || b[1] != '/') continue;
    const size_t clen = (size_t)(b - a - 1);
    const int match = v2 ? (a - line == 1 && line[0] == '0' && clen == 0)
                         : (clen > 0 && fc_cg_has_item(a + 1, clen, ctl));
    if (match && strlen(b + 1) < FC_CG_PATH) {
      strcpy(path, b + 1);
      found = 1;
    }
  }
  fclose(f);
  return found;
}

/* A mountinfo field, its octal escapes (\040 for a space) decoded, into out
 * (FC_CG_PATH bytes): 1, or 0 if it does not fit. */
static int fc_cg_unescape(const char *s, size_t len, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' &&
        s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    }
    if (n + 1 >= FC_CG_PATH) return 0;
    out[n++] = c;
  }
  out[n] = '\0';
  return 1;
}

/* The mount of the v2 hierarchy (v2 = 1) or of the v1 one holding controller
 * `ctl`: its root within the hierarchy and its mount point; 1, or 0 if none is
 * mounted. */
static int fc_cg_mount(const char *root, int v2, const char *ctl, char *mroot, char *mpoint) {
  FILE *f = fc_cg_open(root, "/proc/self/mountinfo");
  if (!f) return 0;
  char line[FC_CG_LINE];
  int found = 0, lines = 0;
  while (!found && fc_cg_next(f, line, &lines)) {
    /* id parent major:minor root mount-point options [optional...] - type source super */
    const char *field[64];
    size_t flen[64];
    int nf = 0;
    for (char *p = line; *p && nf < 64;) {
      while (*p == ' ') p++;
      if (!*p) break;
      field[nf] = p;
      while (*p && *p != ' ') p++;
      flen[nf] = (size_t)(p - field[nf]);
      nf++;
    }
    int dash = -1;
    for (int i = 6; i < nf; i++)
      if (flen[i] == 1 && field[i][0] == '-') {
        dash = i;
        break;
      }
    if (dash < 0 || dash + 1 >= nf) continue;
    const char *type = field[dash + 1];
    const size_t tlen = flen[dash + 1];
    int match;
    if (v2) {
      match = tlen == 7 && strncmp(type, "cgroup2", 7) == 0;
    } else {
      match = tlen == 6 && strncmp(type, "cgroup", 6) == 0 && dash + 3 < nf &&
              fc_cg_has_item(field[dash + 3], flen[dash + 3], ctl);
    }
    if (match && fc_cg_unescape(field[3], flen[3], mroot) &&
        fc_cg_unescape(field[4], flen[4], mpoint))
      found = 1;
  }
  fclose(f);
  return found;
}

/* A whole number at the start of s (blanks before it), >= 0: 1; else 0. */
static int fc_cg_number(const char *s, long long *v) {
  while (*s == ' ' || *s == '\t') s++;
  if (*s < '0' || *s > '9') return 0;
  char *end;
  *v = strtoll(s, &end, 10);
  return *v >= 0 && *v < (1LL << 62);
}

/* The CPUs the quota in folder `dir` allows (rounded up), or 0 for none. */
static long long fc_cg_cpu_level(const char *dir, int v2) {
  char path[FC_CG_PATH + 32], line[FC_CG_LINE];
  long long quota = 0, period = 0;
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, v2 ? "cpu.max" : "cpu.cfs_quota_us");
  if (!(f = fopen(path, "r"))) return 0;
  const int got = fc_cg_line(f, line) > 0 && fc_cg_number(line, &quota);
  fclose(f);
  if (!got || quota <= 0) return 0; /* "max", -1: none */
  if (v2) {
    const char *p = strchr(line, ' ');
    if (!p || !fc_cg_number(p, &period)) return 0;
  } else {
    snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
    if (!(f = fopen(path, "r"))) return 0;
    const int ok = fc_cg_line(f, line) > 0 && fc_cg_number(line, &period);
    fclose(f);
    if (!ok) return 0;
  }
  if (period <= 0) return 0;
  return quota / period + (quota % period != 0);
}

/* The bytes the memory limit in folder `dir` allows, or 0 for none. */
static long long fc_cg_memory_level(const char *dir, int v2) {
  char path[FC_CG_PATH + 32], line[FC_CG_LINE];
  long long bytes = 0;
  snprintf(path, sizeof path, "%s/%s", dir, v2 ? "memory.max" : "memory.limit_in_bytes");
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  const int got = fc_cg_line(f, line) > 0 && fc_cg_number(line, &bytes); /* "max", 2^63-: none */
  fclose(f);
  return got ? bytes : 0;
}

/* The smallest limit `level` reads from this process's cgroup up to the top of
 * one hierarchy (v1: that of controller `ctl`); 0 for none. */
static long long fc_cg_hierarchy(const char *root, int v2, const char *ctl,
                                 long long (*level)(const char *dir, int v2)) {
  char own[FC_CG_PATH], mroot[FC_CG_PATH], mpoint[FC_CG_PATH], dir[FC_CG_PATH];
  if (!fc_cg_own_path(root, v2, ctl, own) || !fc_cg_mount(root, v2, ctl, mroot, mpoint)) return 0;
  /* own lies under the mount's root: what follows it is the path below the mount point */
  size_t rl = strlen(mroot);
  while (rl > 0 && mroot[rl - 1] == '/') rl--;
  if (strncmp(own, mroot, rl) != 0 || (own[rl] != '\0' && own[rl] != '/')) return 0;
  const int base = snprintf(dir, sizeof dir, "%s%s", root, mpoint);
  if (base < 0 || (size_t)base >= sizeof dir) return 0;
  size_t top = (size_t)base;
  while (top > 1 && dir[top - 1] == '/') dir[--top] = '\0';
  if ((size_t)snprintf(dir + top, sizeof dir - top, "%s", own + rl) >= sizeof dir - top) return 0;
  size_t n = strlen(dir);
  while (n > top && dir[n - 1] == '/') dir[--n] = '\0';
  long long best = 0;
  for (int depth = 0; depth < FC_CG_DEPTH; depth++) {
    const long long v = level(dir, v2);
    if (v > 0 && (best == 0 || v < best)) best = v;
    if (n <= top) break;
    while (n > top && dir[n - 1] != '/') n--; /* up one level */
    while (n > top && dir[n - 1] == '/') n--;
    dir[n] = '\0';
  }
  return best;
}
#endif

int fc_cgroup_cpus_at(const char *root) {
#if defined(__linux__)
  if (root == NULL || strlen(root) >= FC_CG_PATH) return 0;
  const long long v2 = fc_cg_hierarchy(root, 1, "cpu", fc_cg_cpu_level);
  const long long v1 = fc_cg_hierarchy(root, 0, "cpu", fc_cg_cpu_level);
  long long best = v2 > 0 && (v1 == 0 || v2 < v1) ? v2 : v1;
  return best > FC_MAX_THREADS ? FC_MAX_THREADS : (int)best;
#else
  (void)root;
  return 0;
#endif
}

int fc_cgroup_cpus(void) { return fc_cgroup_cpus_at(""); }

int64_t fc_cgroup_memory_at(const char *root) {
#if defined(__linux__)
  if (root == NULL || strlen(root) >= FC_CG_PATH) return 0;
  const long long v2 = fc_cg_hierarchy(root, 1, "memory", fc_cg_memory_level);
  const long long v1 = fc_cg_hierarchy(root, 0, "memory", fc_cg_memory_level);
  return v2 > 0 && (v1 == 0 || v2 < v1) ? v2 : v1;
#else
  (void)root;
  return 0;
#endif
}

int64_t fc_cgroup_memory(void) { return fc_cgroup_memory_at(""); }
