"""Machine channels into the hotline: SMS and Weibo webhooks (design §4, intake webhooks).

`common` checks what every delivery must carry (signature, timestamp, a JSON object)
and keeps each message once; `sms` and `weibo` read their channel's payload and decide
what a message does (open a ticket, rate one, support one); `views` answers the
gateways in the contract's JSON.
"""
