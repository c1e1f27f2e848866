# fish completion for torsocks (torsocks-rs)
complete -c torsocks -s u -l user -x -d 'SOCKS5 username (stream isolation)'
complete -c torsocks -s p -l pass -x -d 'SOCKS5 password'
complete -c torsocks -s a -l address -x -d "Tor's SOCKS address"
complete -c torsocks -s P -l port -x -d "Tor's SOCKS port"
complete -c torsocks -s i -l isolate -d 'Per-process isolation'
complete -c torsocks -s 6 -l ipv6 -d 'Allow IPv6 sockets and lookups'
complete -c torsocks -s d -l debug -d 'Log everything'
complete -c torsocks -s q -l quiet -d 'Log nothing but fatal errors'
complete -c torsocks -l check -d 'Check that preloading works and Tor answers'
complete -c torsocks -l ns -d 'Use namespace mode (torsocks-ns)'
complete -c torsocks -l shell -d 'Start a torified shell'
complete -c torsocks -l version -d 'Show the version'
complete -c torsocks -s h -l help -d 'Show the help'
complete -c torsocks -n '__fish_is_first_token' -a 'on off show' -d 'Tor mode of this shell'
complete -c torsocks -n '__fish_is_first_token' -a '(__fish_complete_command)'
