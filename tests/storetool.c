/*
 * storetool.c - ssprd's state store from the shell, for tests that must
 * set up what only a crash at one exact instant would leave behind.
 *
 *   storetool DIR get DB KEY        the record as JSON, or exit 1
 *   storetool DIR put DB KEY JSON   store it
 *   storetool DIR list DB           every record: KEY, a tab, its JSON
 *
 * DB is tickets, intents, events, meta or accounts. ssprd must not be running: the
 * store has one opener (store.c). Exit status 0; 1 when get finds no
 * (readable) record; 2 on usage errors; 3 when the store cannot be opened
 * or written.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "daemon/store.h"

static const char *names[] = {
	"tickets", "intents", "events", "meta", "accounts",
};

static void
usage(void)
{
	fprintf(stderr, "usage: storetool DIR get DB KEY\n"
	    "       storetool DIR put DB KEY JSON\n"
	    "       storetool DIR list DB\n");
	exit(2);
}

static int
print_record(const char *key, json_t *value, void *arg)
{
	(void)arg;
	printf("%s\t", key);
	json_dumpf(value, stdout, JSON_COMPACT);
	putchar('\n');
	return 0;
}

int
main(int argc, char **argv)
{
	enum store_db db = STORE_TICKETS;
	struct store *st;
	json_error_t jerr;
	json_t *v;
	char err[512];
	size_t i;
	int rc = 0;

	if (argc < 4)
		usage();
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(argv[3], names[i]) == 0)
			break;
	if (i == sizeof(names) / sizeof(names[0]))
		usage();
	db = (enum store_db)i;
	log_init(LOG_LEVEL_WARNING);
	if ((st = store_open(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "storetool: %s\n", err);
		return 3;
	}
	if (strcmp(argv[2], "get") == 0 && argc == 5) {
		if ((v = store_get(st, db, argv[4])) == NULL)
			rc = 1;
		else {
			json_dumpf(v, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(v);
		}
	} else if (strcmp(argv[2], "list") == 0 && argc == 4) {
		rc = store_foreach(st, db, print_record, NULL) == 0 ? 0 : 3;
	} else if (strcmp(argv[2], "put") == 0 && argc == 6) {
		if ((v = json_loads(argv[5], 0, &jerr)) == NULL) {
			fprintf(stderr, "storetool: %s\n", jerr.text);
			rc = 2;
		} else {
			rc = store_put(st, db, argv[4], v) == 0 ? 0 : 3;
			json_decref(v);
		}
	} else {
		store_close(st);
		usage();
	}
	store_close(st);
	return rc;
}
