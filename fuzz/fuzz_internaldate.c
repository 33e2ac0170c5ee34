/* fuzz_internaldate.c - libFuzzer target for INTERNALDATE parsing and
 * formatting (store/imap_format.h).  The input, as a string, is parsed:
 * a date that parses has a zone within +-2359 and formats to a date that
 * parses to the same time and zone.  The first 12 bytes, as a time and
 * a zone, are formatted: whatever the values, the result parses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/imap_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), out[64];
	time_t t, t2;
	int tz, tz2;
	int64_t rt;
	int32_t rz;

	memcpy(s, data, size);
	s[size] = '\0';
	if (imap_parse_internaldate(s, &t, &tz) == 0) {
		if (tz < -(23 * 60 + 59) || tz > 23 * 60 + 59)
			abort();
		imap_format_internaldate(t, tz, out, sizeof(out));
		if (imap_parse_internaldate(out, &t2, &tz2) != 0 || t2 != t ||
		    tz2 != tz)
			abort();
	}
	free(s);
	if (size >= sizeof(rt) + sizeof(rz)) {
		memcpy(&rt, data, sizeof(rt));
		memcpy(&rz, data + sizeof(rt), sizeof(rz));
		imap_format_internaldate((time_t)rt, rz, out, sizeof(out));
		if (imap_parse_internaldate(out, &t2, &tz2) != 0)
			abort();
	}
	return 0;
}
