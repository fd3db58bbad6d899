# Sourced by the project's scripts: script_help SCRIPT ARGS... prints
# SCRIPT's header comment (its usage) and exits 0 when the first of ARGS is
# -h or --help, so every script answers --help alike.
script_help() {
    case ${2:-} in
    -h | --help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$1"
        exit 0
        ;;
    esac
}
