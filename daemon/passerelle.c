/* passerelle — the command-line tool: dispatches `passerelle GROUP …` to its subcommand group. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "rome_snapshot.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"rome", cli_rome_main,
     "inspect, build and publish the ROME 4.0 index (info, build, show, contexts, publish)"},
    {"match", cli_match_main, "match profiles (JSON Lines) to competences and occupations"},
    {"explain", cli_explain_main,
     "render suggestion events (JSON Lines) readably, with ROME labels"},
    {"send", cli_send_main,
     "produce events given as JSON Lines to a Kafka topic (msgpack, keyed by user_id)"},
    {"tail", cli_tail_main,
     "print a Kafka topic's messages (suggestions, DLQ records…) as JSON Lines"},
    {"replay", cli_replay_main,
     "re-send dead-letter records' original bytes to their source topic after a fix"},
    {"broker", cli_broker_main,
     "run a standalone Kafka cluster (librdkafka's mock) that takes faults on stdin"},
    {"rematch", cli_rematch_main,
     "ask the daemons to match every stored profile again (after rome publish)"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: passerelle COMMAND [ARGS…]\n"
                 "       passerelle --help | --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`passerelle COMMAND --help` describes each command.\n");
}

int main(int argc, char **argv) {
    /* hiredis and librdkafka write to sockets with write(2): a peer that goes away must be an
     * error to handle (EPIPE), not a signal that kills the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    /* The ROME version is in the index, which --version does not load: the snapshot format says
     * which indexes this build reads. */
    if (!strcmp(argv[1], "--version")) {
        printf("passerelle %s (ROME snapshot format %d)\n", PASSERELLE_VERSION,
               ROME_SNAPSHOT_FORMAT);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "passerelle: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
