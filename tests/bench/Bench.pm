# tests/bench/Bench.pm: what the bench drivers share (tests/bench/run for
# `make bench`, tests/bench/compare for `make bench-compare`): the tmpfs
# directory of a run and its cleanup, statistics, units, starting and
# stopping tendd on a generated config, /proc readings, the record files
# of bench.h, and tend's restart cycles. Perl core modules only.
package Bench;
use strict;
use warnings;
no warnings qw(portable exec);
use Cwd qw(abs_path);
use Exporter qw(import);
use File::Path qw(remove_tree);
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(:sys_wait_h mktime floor);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time sleep);

our @EXPORT = qw($B $ROOT $TMPFS $HZ $ctl_sent $ctl_got
    setup at_cleanup note pct summary unit_for num fmt_time decoded
    newdir write_conf service start_tendd stop_tendd alive ctl wait_ctl
    slurp wait_log tail log_time proc_status rss_kib ctxsw children tasks
    cpu_seconds runtime_ns make_rec read_rec first_rec rec_count
    $RESTART crasher_service restart_cycles);

our $B;     # the build measured
our $TMPFS; # /dev/shm or /run
our $ROOT;  # this run's directory there, removed on the way out
my @kids;   # tendd pids still to stop on the way out
my @at_cleanup;
my $NAME = "bench";

# setup(build, name, target, files): checks that the build has the files
# (else: run `make target`), makes $TMPFS/name.PID and cleans it up on
# exit, INT and TERM
sub setup {
	my ($build, $name, $target, @files) = @_;
	$B = abs_path($build) or die "no build '$build'\n";
	for my $f (@files) {
		-e "$B/$f" or die "$B/$f is missing: run `make $target`\n";
	}
	($NAME = $name) =~ s/^tend-//;

	# the daemon's runtime files: tmpfs only
	for my $d ("/dev/shm", "/run") {
		if (-d $d && -w $d && fstype($d) eq 'tmpfs') { $TMPFS = $d; last }
	}
	die "no writable tmpfs (/dev/shm or /run) for the daemon's files\n"
	    unless $TMPFS;
	$ROOT = "$TMPFS/$name.$$";
	mkdir $ROOT or die "mkdir $ROOT: $!\n";
	$SIG{INT} = $SIG{TERM} = sub { exit 130 };
	delete @ENV{qw(NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID JOURNAL_STREAM
	               TEND_SOCKET)};
}
END { cleanup() }

# what else to undo on the way out (perf probes, other supervisors)
sub at_cleanup { push @at_cleanup, @_ }

sub fstype {
	my ($dir) = @_;
	my ($best, $type) = ("", "");
	open my $m, '<', '/proc/mounts' or return "";
	while (<$m>) {
		my (undef, $mp, $t) = split;
		if (($dir eq $mp || index("$dir/", $mp eq '/' ? '/' : "$mp/") == 0)
		    && length $mp > length $best) {
			($best, $type) = ($mp, $t);
		}
	}
	return $type;
}

sub cleanup {
	local $?;
	for my $pid (@kids) {
		kill 'KILL', $pid;
		waitpid $pid, 0;
	}
	@kids = ();
	$_->() for @at_cleanup;
	@at_cleanup = ();
	remove_tree($ROOT) if $ROOT && -d $ROOT;
}

sub note { print STDERR "$NAME: @_\n" }

# ---------------------------------------------------------------- stats

sub pct { # pct(\@sorted, fraction): linear between ranks
	my ($s, $p) = @_;
	return undef unless @$s;
	my $x = $p * (@$s - 1);
	my $i = floor($x);
	return $s->[$i] if $i >= $#$s;
	return $s->[$i] + ($s->[$i + 1] - $s->[$i]) * ($x - $i);
}

sub summary { # (median, p10, p90, min, max, n) of a list
	my @s = sort { $a <=> $b } grep { defined } @_;
	return () unless @s;
	return (pct(\@s, 0.5), pct(\@s, 0.1), pct(\@s, 0.9), $s[0], $s[-1],
	        scalar @s);
}

# ---------------------------------------------------------------- units

# a value in seconds, in the unit its size calls for
sub unit_for {
	my ($v) = @_;
	my $a = abs($v // 0);
	return $a >= 1 ? ["s", 1] : $a >= 1e-3 ? ["ms", 1e3]
	     : $a >= 1e-6 ? ["µs", 1e6] : ["ns", 1e9];
}
sub num { # 3 significant digits, no exponent
	my ($v) = @_;
	my $a = abs $v;
	return sprintf($a >= 100 ? "%.0f" : $a >= 10 ? "%.1f" : "%.2f", $v);
}

sub fmt_time {
	my ($v) = @_;
	return "n/a" unless defined $v;
	my ($u, $m) = @{unit_for($v)};
	return num($v * $m) . " $u";
}

sub decoded { my $s = shift // ""; utf8::decode($s); $s }

# ---------------------------------------------------------------- tendd

my $seq = 0;
sub newdir {
	my $d = "$ROOT/" . join("-", @_, ++$seq);
	mkdir $d or die "mkdir $d: $!\n";
	return $d;
}

# write_conf(dir, services text, log level, more keys of `tend`)
sub write_conf {
	my ($dir, $services, $level, $global) = @_;
	$level //= "info";
	$global = $global ? "\n  $global" : "";
	open my $f, '>', "$dir/tend.conf.new" or die "$dir: $!\n";
	print $f <<"CONF";
tend = {
  plugin_path = [ "$B/plugins", "$B/tests/bench" ];
  control = { socket = "$dir/tend.sock"; };
  log = { level = "$level"; };
  stop_timeout = 5.0;$global
};
services = (
$services
);
CONF
	close $f or die "$dir: $!\n";
	rename "$dir/tend.conf.new", "$dir/tend.conf" or die "$dir: $!\n";
}

# one service's text
sub service {
	my (%s) = @_;
	my $t = "  { name = \"$s{name}\"; plugin = \"$s{plugin}\"; "
	      . "executor = \"$s{executor}\";";
	$t .= " $s{extra}" if $s{extra};
	$t .= " settings = { $s{settings} };" if $s{settings};
	return "$t }";
}

# start tendd on dir/tend.conf; returns (pid, the time just before fork)
sub start_tendd {
	my ($dir, @args) = @_;
	my $t0 = time;
	my $pid = fork // die "fork: $!\n";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDERR, '>', "$dir/log" or POSIX::_exit(127);
		open STDOUT, '>&', \*STDERR;
		exec "$B/tendd", '-c', "$dir/tend.conf", @args;
		POSIX::_exit(127);
	}
	push @kids, $pid;
	return ($pid, $t0);
}

sub stop_tendd {
	my ($pid, $timeout) = @_;
	kill 'TERM', $pid;
	my $deadline = time + ($timeout // 30);
	while (waitpid($pid, WNOHANG) == 0) {
		if (time > $deadline) {
			note "tendd $pid did not stop: SIGKILL";
			kill 'KILL', $pid;
			waitpid $pid, 0;
			last;
		}
		sleep 0.005;
	}
	@kids = grep { $_ != $pid } @kids;
}

sub alive { waitpid($_[0], WNOHANG) == 0 }

# one request on the control socket; the decoded reply (undef: no answer);
# $ctl_sent and $ctl_got: when it was sent, and when the reply was in
our ($ctl_sent, $ctl_got);
sub ctl {
	my ($dir, $req) = @_;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM,
	                              Peer => "$dir/tend.sock") or return undef;
	my $text = encode_json({v => 1, %$req}) . "\n";
	$ctl_sent = time;
	print $s $text;
	my $line = <$s>;
	$ctl_got = time;
	close $s;
	return undef unless defined $line;
	return eval { decode_json($line) };
}

sub wait_ctl {
	my ($dir, $pid, $timeout) = @_;
	my $deadline = time + ($timeout // 20);
	while (time < $deadline) {
		die "tendd exited; log:\n" . slurp("$dir/log") unless alive($pid);
		return 1 if ctl($dir, {cmd => 'status', name => '-'});
		sleep 0.01;
	}
	die "tendd does not answer on $dir/tend.sock\n";
}

sub slurp { open my $f, '<', $_[0] or return ""; local $/; <$f> }

# Wait for `count` log lines matching `re`; returns their timestamps (s
# since the epoch, ms resolution), or dies at the deadline.
sub wait_log {
	my ($dir, $pid, $re, $count, $timeout) = @_;
	my $deadline = time + ($timeout // 60);
	my ($pos, $partial, @times) = (0, "");
	while (1) {
		if (open my $f, '<', "$dir/log") {
			seek $f, $pos, 0;
			local $/;
			my $chunk = <$f> // "";
			$pos += length $chunk;
			$chunk = $partial . $chunk;
			my $nl = rindex $chunk, "\n";
			$partial = substr $chunk, $nl + 1;
			for my $l (split /\n/, substr($chunk, 0, $nl + 1)) {
				push @times, log_time($l) if $l =~ $re;
			}
		}
		return @times if @times >= $count;
		die "tendd exited; log:\n" . tail("$dir/log") unless alive($pid);
		die "waited in vain for $count lines like $re (" . @times
		    . " seen)\n" . tail("$dir/log") if time > $deadline;
		sleep 0.002;
	}
}

sub tail { my @l = split /\n/, slurp($_[0]); join "\n", @l[-(@l < 20 ? @l : 20) .. -1], "" }

my %mk_cache;
sub log_time {
	my ($l) = @_;
	$l =~ /^(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)\.(\d+)/ or return undef;
	my $key = "$1-$2-$3 $4";
	my $base = $mk_cache{$key} //= mktime(0, 0, $4, $3, $2 - 1, $1 - 1900,
	                                      0, 0, -1);
	return $base + $5 * 60 + $6 + $7 / 1000;
}

# ---------------------------------------------------------------- /proc

sub proc_status {
	my ($path) = @_;
	my %s;
	open my $f, '<', $path or return undef;
	while (<$f>) { $s{$1} = $2 if /^(\w+):\s+(\d+)/ }
	return \%s;
}
sub rss_kib { (proc_status("/proc/$_[0]/status") // {})->{VmRSS} }
sub ctxsw {
	my ($path) = @_;
	my $s = proc_status($path) or return 0;
	return ($s->{voluntary_ctxt_switches} // 0)
	     + ($s->{nonvoluntary_ctxt_switches} // 0);
}
sub children { # by their parent in /proc/PID/stat
	my ($ppid) = @_;
	my @c;
	for my $d (glob "/proc/[0-9]*") {
		open my $f, '<', "$d/stat" or next;
		my $s = <$f> // next;
		push @c, $1 if $s =~ /^(\d+) .*\) \S+ (\d+) / && $2 == $ppid;
	}
	return @c;
}
sub tasks { map { m{/(\d+)$} ? $1 : () } glob("/proc/$_[0]/task/*") }
our $HZ = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
sub cpu_seconds { # utime + stime of a process, in seconds
	open my $f, '<', "/proc/$_[0]/stat" or return undef;
	my $s = <$f>;
	$s =~ s/^.*\) //;
	my @f = split ' ', $s;
	return ($f[11] + $f[12]) / $HZ;
}
sub runtime_ns { # on-CPU time of every live thread (schedstat), in s
	my $t = 0;
	for my $tid (tasks($_[0])) {
		open my $f, '<', "/proc/$_[0]/task/$tid/schedstat" or next;
		my ($ns) = split ' ', scalar <$f>;
		$t += $ns;
	}
	return $t / 1e9;
}

# ---------------------------------------------------------------- records

sub make_rec {
	my ($path, $cap) = @_;
	open my $f, '>', $path or die "$path: $!\n";
	print $f pack("QQQQ", 0x74656e6462656e63, $cap, 0, 0);
	truncate $f, 32 + 16 * $cap or die "$path: $!\n";
	close $f;
}

# the complete records: a list of [a, b] in ns
sub read_rec {
	my ($path) = @_;
	open my $f, '<', $path or die "$path: $!\n";
	binmode $f;
	read($f, my $h, 32) == 32 or die "$path: short\n";
	my (undef, $cap, $n) = unpack "QQQ", $h;
	$n = $cap if $n > $cap;
	read($f, my $d, 16 * $n);
	my @q = unpack "q*", $d;
	return map { [$q[2 * $_], $q[2 * $_ + 1]] } 0 .. $n - 1;
}

sub first_rec { # rec[0].a
	open my $f, '<', $_[0] or return 0;
	read($f, my $h, 40);
	return length $h == 40 ? (unpack "QQQQq", $h)[4] : 0;
}

sub rec_count {
	open my $f, '<', $_[0] or return 0;
	read($f, my $h, 24);
	return (unpack "QQQ", $h)[2];
}

# ---------------------------------------------------------------- restart

# restarted at once, for ever
our $RESTART = 'restart = { policy = "permanent"; backoff = "immediate"; '
             . 'intensity = 100; period = 0.000001; };';

sub crasher_service {
	my ($exec, $rec) = @_;
	if ($exec eq 'exec') {
		return service(name => "crash", plugin => "exec.so",
		               executor => "process", extra => $RESTART,
		               settings => "command = \"$B/tests/bench/crashprog\";"
		                         . " args = [ \"$rec\" ];");
	}
	my $hard = $exec =~ /^process/ ? "true" : "false";
	return service(name => "crash", plugin => "crasher.so",
	               executor => $exec, extra => $RESTART,
	               settings => "file = \"$rec\"; hard = $hard;");
}

# restart latency of every cycle of `runs` runs of `window` seconds each;
# returns (\@exit_to_init, \@exit_to_exit) in seconds
sub restart_cycles {
	my ($exec, $runs, $window) = @_;
	my (@lat, @cyc);
	for my $run (1 .. $runs) {
		my $dir = newdir("restart", $exec);
		my $rec = "$dir/rec";
		make_rec($rec, $exec eq 'async' ? 1_000_000 : 300_000);
		write_conf($dir, crasher_service($exec, $rec));
		my ($pid) = start_tendd($dir);
		my $deadline = time + 10;
		while (rec_count($rec) < 50) {
			die "tendd exited:\n" . tail("$dir/log") unless alive($pid);
			die "no restarts under $exec:\n" . tail("$dir/log")
			    if time > $deadline;
			sleep 0.01;
		}
		sleep $window;
		stop_tendd($pid);
		my @r = read_rec($rec);
		# the first cycles are tendd's start-up, the last the shutdown
		for my $i (20 .. $#r - 2) {
			next unless $r[$i][1] && $r[$i + 1][0] && $r[$i + 1][1];
			push @lat, ($r[$i + 1][0] - $r[$i][1]) / 1e9;
			push @cyc, ($r[$i + 1][1] - $r[$i][1]) / 1e9;
		}
		remove_tree($dir);
	}
	return (\@lat, \@cyc);
}

1;
