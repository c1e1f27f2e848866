# bash completion for torsocks (torsocks-rs)
_torsocks() {
    local cur=${COMP_WORDS[COMP_CWORD]} i
    # Once the command is named, complete its own arguments.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -u|--user|-p|--pass|-a|--address|-P|--port) ((i++)) ;;
            --) ((i++)); break ;;
            -*) ;;
            *) break ;;
        esac
    done
    if ((i < COMP_CWORD)); then
        if declare -F _command_offset >/dev/null; then
            _command_offset "$i"
        else
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return
    fi
    case ${COMP_WORDS[COMP_CWORD-1]} in
        -u|--user|-p|--pass|-a|--address|-P|--port) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "-u --user -p --pass -a --address -P --port -i --isolate
            -6 --ipv6 -d --debug -q --quiet --check --ns --shell --version -h --help --" -- "$cur"))
    else
        COMPREPLY=($(compgen -c -W "on off show" -- "$cur"))
    fi
}
complete -F _torsocks torsocks
