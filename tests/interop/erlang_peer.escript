#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%% An Erlang/OTP diameter node for interop tests: RFC 6733 base dictionary with
%% the base accounting application (3), answering ACR with ACA 2001.
%% Args: OriginHost ListenPort PeerPort WatchdogMs
%% Commands on stdin: "connect" adds a connecting transport to 127.0.0.1:PeerPort,
%% "disconnect" removes it, "quit" stops. Events are printed one per line.
-module(erlang_peer).
-mode(compile).
-export([main/1, peer_up/3, peer_down/3, pick_peer/4, prepare_request/3, prepare_retransmit/3,
         handle_answer/4, handle_error/4, handle_request/3]).

-include_lib("diameter/include/diameter.hrl").

main([OH, LPort, PPort, Tw]) ->
    ok = diameter:start(),
    persistent_term:put(origin_host, OH),
    Svc = erl_svc,
    ok = diameter:start_service(Svc, [{'Origin-Host', OH}, {'Origin-Realm', "test.realm"},
                                      {'Host-IP-Address', [{127,0,0,1}]},
                                      {'Vendor-Id', 0}, {'Product-Name', "erlang"},
                                      {'Origin-State-Id', diameter:origin_state_id()},
                                      {'Acct-Application-Id', [3]},
                                      {decode_format, list},
                                      {application, [{alias, acct}, {dictionary, diameter_gen_acct_rfc6733},
                                                     {module, ?MODULE}]}]),
    true = diameter:subscribe(Svc),
    {ok, _} = diameter:add_transport(Svc, {listen, [{transport_module, diameter_tcp},
                                                    {transport_config, [{reuseaddr, true}, {ip, {127,0,0,1}},
                                                                        {port, list_to_integer(LPort)}]},
                                                    {watchdog_timer, list_to_integer(Tw)}]}),
    io:format("READY~n"),
    Self = self(),
    spawn_link(fun() -> read_stdin(Self) end),
    loop(Svc, list_to_integer(PPort), list_to_integer(Tw), undefined).

read_stdin(Pid) ->
    case io:get_line("") of
        eof -> Pid ! {cmd, "quit"};
        Line -> Pid ! {cmd, string:trim(Line)}, read_stdin(Pid)
    end.

loop(Svc, PPort, Tw, Ref) ->
    receive
        {cmd, "connect"} ->
            {ok, R} = diameter:add_transport(Svc, {connect, [{transport_module, diameter_tcp},
                                                              {transport_config, [{raddr, {127,0,0,1}},
                                                                                  {rport, PPort},
                                                                                  {ip, {127,0,0,1}}]},
                                                              {connect_timer, 500},
                                                              {watchdog_timer, Tw}]}),
            io:format("CONNECTING~n"),
            loop(Svc, PPort, Tw, R);
        {cmd, "disconnect"} ->
            diameter:remove_transport(Svc, Ref),
            io:format("DISCONNECTED~n"),
            loop(Svc, PPort, Tw, undefined);
        {cmd, "quit"} ->
            diameter:stop(),
            halt(0);
        {cmd, _} ->
            loop(Svc, PPort, Tw, Ref);
        {diameter_event, _, {up, _, _, _, _}} ->
            io:format("EVENT up~n"),
            loop(Svc, PPort, Tw, Ref);
        {diameter_event, _, {up, _, _, _}} ->
            io:format("EVENT up~n"),
            loop(Svc, PPort, Tw, Ref);
        {diameter_event, _, {down, _, _, _}} ->
            io:format("EVENT down~n"),
            loop(Svc, PPort, Tw, Ref);
        {diameter_event, _, {closed, _, Why, _}} ->
            io:format("EVENT closed ~0p~n", [reason(Why)]),
            loop(Svc, PPort, Tw, Ref);
        {diameter_event, _, {watchdog, _, _, {From, To}, _}} ->
            io:format("EVENT watchdog ~p ~p~n", [From, To]),
            loop(Svc, PPort, Tw, Ref);
        {diameter_event, _, E} ->
            io:format("EVENT other ~0p~n", [element(1, E)]),
            loop(Svc, PPort, Tw, Ref)
    end.

reason({'CER', Rc, _, _}) -> {'CER', Rc};
reason({'CEA', Rc, _, _}) -> {'CEA', Rc};
reason({'CER', _, _}) -> 'CER';
reason({'CEA', _, _}) -> 'CEA';
reason(Other) when is_tuple(Other) -> element(1, Other);
reason(Other) -> Other.

peer_up(_Svc, _Peer, State) -> State.
peer_down(_Svc, _Peer, State) -> State.
pick_peer([Peer | _], _, _Svc, _State) -> {ok, Peer};
pick_peer([], _, _Svc, _State) -> false.
prepare_request(Pkt, _Svc, _Peer) -> {send, Pkt}.
prepare_retransmit(Pkt, _Svc, _Peer) -> {send, Pkt}.
handle_answer(Pkt, _Req, _Svc, _Peer) -> {ok, Pkt#diameter_packet.msg}.
handle_error(Reason, _Req, _Svc, _Peer) -> {error, Reason}.

handle_request(#diameter_packet{msg = ['ACR' | Avps]}, _Svc, _Peer) ->
    io:format("REQUEST ACR~n"),
    Get = fun(K) -> proplists:get_value(K, Avps) end,
    {reply, ['ACA', {'Session-Id', Get('Session-Id')}, {'Result-Code', 2001},
             {'Origin-Host', persistent_term:get(origin_host)}, {'Origin-Realm', "test.realm"},
             {'Accounting-Record-Type', Get('Accounting-Record-Type')},
             {'Accounting-Record-Number', Get('Accounting-Record-Number')}]};
handle_request(_Pkt, _Svc, _Peer) ->
    {answer_message, 3001}.
