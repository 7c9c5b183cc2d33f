/* The one reader of fastconv's environment variables ($FASTCONV_ISA,
 * $FASTCONV_NUM_THREADS, $OMP_NUM_THREADS): the dispatch table and the thread
 * pool take their defaults from here, and the Python layer asks here too, to
 * turn `why` into a warning. The variables are read, never written. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fastconv/fastconv.h"

static void fc_say(char *why, size_t why_size, const char *text) {
  if (why != NULL && why_size > 0) snprintf(why, why_size, "%s", text);
}

/* s without leading and trailing blanks (lower-cased if `lower`) into buf,
 * cut to size - 1 characters. */
static void fc_trimmed(const char *s, int lower, char *buf, size_t size) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  if (n >= size) n = size - 1;
  for (size_t i = 0; i < n; i++) buf[i] = lower ? (char)tolower((unsigned char)s[i]) : s[i];
  buf[n] = '\0';
}

int fc_env_isa(char *why, size_t why_size) {
  fc_say(why, why_size, "");
  const char *env = getenv("FASTCONV_ISA");
  char name[80];
  if (env == NULL) return -1;
  fc_trimmed(env, 1, name, sizeof name);
  if (name[0] == '\0') return -1;
  for (int i = 0; i < FC_ISA_COUNT; i++)
    if (strcmp(name, fc_isa_name((fc_isa)i)) == 0) return i;
  char text[256];
  int used = snprintf(text, sizeof text, "FASTCONV_ISA='%s' is not one of ", name);
  for (int i = 0; i < FC_ISA_COUNT && used > 0 && (size_t)used < sizeof text; i++)
    used += snprintf(text + used, sizeof text - (size_t)used, "%s%s", i ? ", " : "",
                     fc_isa_name((fc_isa)i));
  fc_say(why, why_size, text);
  return -1;
}

/* A positive decimal integer at the start of s (up to a ',' or the end, blanks
 * around it allowed), at most INT_MAX; 0 if there is none. */
static int fc_parse_count(const char *s) {
  if (!s) return 0;
  while (*s == ' ' || *s == '\t') s++;
  char *end;
  errno = 0;
  const long v = strtol(s, &end, 10);
  if (end == s || errno == ERANGE || v < 1) return 0;
  while (*end == ' ' || *end == '\t') end++;
  if (*end != '\0' && *end != ',') return 0;
  return v > INT_MAX ? INT_MAX : (int)v;
}

int fc_env_num_threads(char *why, size_t why_size) {
  fc_say(why, why_size, "");
  const char *env = getenv("FASTCONV_NUM_THREADS");
  int n = fc_parse_count(env);
  if (n < 1 && env != NULL) {
    char value[80], text[256];
    fc_trimmed(env, 0, value, sizeof value);
    if (value[0] != '\0') {
      snprintf(text, sizeof text, "FASTCONV_NUM_THREADS='%s' is not a positive integer; ignored", value);
      fc_say(why, why_size, text);
    }
  }
  if (n < 1) n = fc_parse_count(getenv("OMP_NUM_THREADS"));
  return n;
}
