/* maildir_names.h - the pure parts of the Maildir++ writer
 * (maildir_names.c): the file names maildir_msg.c writes,
 * "<secs>.M<usecs>P<pid>Q<n>T<tag>.<host>,S=<size>:2,<flags>", and the
 * folder's dovecot-keywords file ("<index> <keyword>" lines).  Exposed for
 * the unit tests and fuzz/fuzz_maildir.c. */
#ifndef STORE_MAILDIR_NAMES_H
#define STORE_MAILDIR_NAMES_H

#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"

/* Append tag to out with '.', '/', ':' and ',' (a file name's separators)
 * written as '_'. */
void maildir_tag_component(const char *tag, struct buf *out);

/* The tag of a name imapmig wrote: the bytes between the first 'T' after
 * "Q" and the next '.'.  0 and *tag_r, *len_r (pointing into name) if
 * there is one, else -1. */
int maildir_name_tag(const char *name, const char **tag_r, size_t *len_r);

/* 1 if name carries ",S=<size>" ending the name or followed by ':' or
 * ','. */
int maildir_name_has_size(const char *name, unsigned long long size);

/* Length of the name before its ":2," info (the whole name if none). */
size_t maildir_name_base_len(const char *name);

/* Read a dovecot-keywords file into kw[0..25] (each malloc'd; *n_kw is
 * how many, gaps filled with ""); lines that are not "<0..25> <name>"
 * are skipped.  kw must be empty (*n_kw == 0) on entry. */
void maildir_keywords_read(FILE *f, char *kw[26], size_t *n_kw);

#endif
