/* The `passerelle` command-line tool's subcommand groups; each lives in its own daemon/cli_*.c.
 * Each returns the process exit status (0 success, 1 failure, 2 usage error). */
#ifndef PASSERELLE_COMMANDS_H
#define PASSERELLE_COMMANDS_H

int cli_rome_main(int argc, char **argv);    /* cli_rome.c: rome info|build|show|contexts|publish */
int cli_match_main(int argc, char **argv);   /* cli_match.c: match profiles given as JSON Lines */
int cli_explain_main(int argc, char **argv); /* cli_explain.c: suggestions rendered for people */
int cli_send_main(
    int argc, char **argv); /* cli_kafka.c: JSON Lines events → Kafka (msgpack, keyed by user_id) */
int cli_tail_main(int argc, char **argv); /* cli_kafka.c: Kafka messages → JSON Lines */
int cli_replay_main(int argc,
                    char **argv); /* cli_kafka.c: DLQ records → their source topic again */
int cli_broker_main(int argc, char **argv); /* cli_broker.c: a standalone Kafka cluster */
int cli_rematch_main(int argc,
                     char **argv); /* cli_rematch.c: every stored user → profile.rematch */

/* cli_common.c: the ROME source of every command that reads the index. When neither --rome DIR
 * nor --snapshot FILE was given, PASSERELLE_SNAPSHOT, else PASSERELLE_ROME_DIR, from the
 * environment (either may stay NULL). */
void cli_rome_source_default(const char **rome_dir, const char **snapshot);
#define CLI_ROME_ENV_HELP                                                                          \
    "Without --rome/--snapshot, PASSERELLE_SNAPSHOT or PASSERELLE_ROME_DIR from the environment "  \
    "is used.\n"

#endif
