/** Help pages, laid out like the AWS CLI's (NAME, DESCRIPTION, SYNOPSIS, OPTIONS, EXAMPLES). */
export const MAIN_HELP = `NAME
       asyncinfer - a self-hosted server for Amazon SageMaker Asynchronous Inference

DESCRIPTION
       asyncinfer accepts InvokeEndpointAsync calls from the unchanged AWS SDKs
       and AWS CLI (change only the endpoint URL), queues them durably, runs
       them on model containers that follow the SageMaker container contract,
       and writes each output or failure where SageMaker would.

SYNOPSIS
       asyncinfer <command> [options]

COMMANDS
       serve      Start the server (gateway, queue, workers, model instances).
       notifications
                  List notifications and their delivery attempts, or replay
                  failed ones, on a running server.
       keys       Create, list, enable, disable and delete access keys.
       help       Show this page, or "asyncinfer help <command>".

OPTIONS
       --help     Show help.
       --version  Print the version.

       Run "asyncinfer serve --help" for the server's options.
`;

export const SERVE_HELP = `NAME
       serve -

DESCRIPTION
       Starts asyncinfer in one process: the SageMaker Runtime API on HOST:PORT,
       a durable SQLite queue and an object store in the data dir
       (s3://BUCKET/KEY is the file DATA_DIR/s3/BUCKET/KEY), and the model
       instances of every configured endpoint.

       Without --config it serves a ready demo endpoint named "demo", backed
       by the example sentiment model.

       SIGTERM or SIGINT stops it gracefully: no new requests, running
       invocations get shutdownGraceSeconds to finish (the rest go back to the
       queue), model instances are stopped, and it exits 0.

SYNOPSIS
       asyncinfer serve
          [--config <value>]
          [--host <value>]
          [--port <value>]
          [--s3-port <value>]
          [--data-dir <value>]
          [--log-level <value>]
          [--role <value>]
          [--redis-url <value>]

OPTIONS
       --config (string)
          A JSON or YAML config file (see docs/configuration.md). Also
          ASYNCINFER_CONFIG.

       --host (string)
          Address to listen on. Default 127.0.0.1. Also ASYNCINFER_HOST.

       --port (integer)
          Port to listen on (0 picks a free one). Default 8080. Also
          ASYNCINFER_PORT.

       --s3-port (integer)
          Port of the embedded store's S3 API (0 picks a free one), for
          "aws s3 cp" and the S3 SDKs with path-style addressing. Default
          9000. Also ASYNCINFER_S3_PORT. Off when storage.type is "s3".

       --data-dir (string)
          Where the queue and the embedded object store live. Default
          ./.asyncinfer. Also ASYNCINFER_DATA_DIR.

       --log-level (string)
          fatal, error, warn, info, debug, trace or silent. Default info.
          Also ASYNCINFER_LOG_LEVEL.

       --role (string)
          all (default): everything in one process. gateway: the HTTP APIs
          only (stateless; run several behind a load balancer). worker:
          model instances and dispatch only, plus GET /metrics and /ping.
          gateway and worker need a shared Redis queue (--redis-url). See
          docs/deploy.md. Also ASYNCINFER_ROLE.

       --redis-url (string)
          Keep the queue, notifications and API-created resources in Redis
          at this URL (redis://[user:password@]host:port[/db]) instead of
          SQLite in the data dir, so gateways and workers on several hosts
          share them. Same as queue {"type": "redis", "url": ...} in the
          config file. Also ASYNCINFER_REDIS_URL.

       --tls-cert (string), --tls-key (string)
          Serve HTTPS on the API and S3 API ports with this PEM certificate
          (chain) and key. SIGHUP reads them again. Same as tls {"cert",
          "key"} in the config file. Also ASYNCINFER_TLS_CERT and
          ASYNCINFER_TLS_KEY.

AUTHENTICATION
       Every request must be signed (AWS Signature Version 4) with an access
       key of the server. The first start with no key anywhere makes a root
       key and writes it to DATA_DIR/credentials (profile "asyncinfer"):

          export AWS_SHARED_CREDENTIALS_FILE=.asyncinfer/credentials AWS_PROFILE=asyncinfer

       Keys also come from the config (auth.keys, with IAM-style policies),
       from ASYNCINFER_ACCESS_KEY_ID + ASYNCINFER_SECRET_ACCESS_KEY, and from
       "asyncinfer keys create". See docs/security.md.

EXAMPLES
       Serve the demo endpoint:

          asyncinfer serve

       Serve your own endpoints:

          asyncinfer serve --config asyncinfer.yaml --port 8090

       Two gateways and a worker sharing Redis (same config file everywhere):

          asyncinfer serve --role gateway --redis-url redis://10.0.0.2:6379 --config c.yaml
          asyncinfer serve --role gateway --redis-url redis://10.0.0.2:6379 --config c.yaml --port 8081
          asyncinfer serve --role worker --redis-url redis://10.0.0.2:6379 --config c.yaml --port 9100

       Invoke it with the AWS CLI, signing with the key made at the first start:

          export AWS_SHARED_CREDENTIALS_FILE=.asyncinfer/credentials AWS_PROFILE=asyncinfer
          aws sagemaker-runtime invoke-endpoint-async \\
              --endpoint-url http://127.0.0.1:8080 \\
              --endpoint-name demo \\
              --input-location s3://asyncinfer-demo/input/review.json \\
              --content-type application/json
`;

export const NOTIFICATIONS_HELP = `NAME
       notifications -

DESCRIPTION
       Lists the notifications of a running server (the SageMaker events sent
       to webhooks and SNS topics) with every delivery attempt, or replays
       the ones that failed: they go back to pending with a fresh attempt
       budget and are delivered again, with the same event id.

       It calls the server's admin API (GET /admin/notifications and POST
       /admin/notifications/replay) and prints its JSON answer.

SYNOPSIS
       asyncinfer notifications list
          [--endpoint-url <value>]
          [--state <value>]
          [--endpoint-name <value>]
          [--limit <value>]

       asyncinfer notifications replay
          [--endpoint-url <value>]
          [--ids <value>]

       Both also take [--profile <value>] [--region <value>].

OPTIONS
       --endpoint-url (string)
          The server's URL. Default http://127.0.0.1:8080.

       --profile (string), --region (string)
          Requests are signed like the AWS CLI's: credentials from
          AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or this
          profile of the shared credentials file; region from --region,
          AWS_REGION or AWS_DEFAULT_REGION (default us-east-1). The key
          needs asyncinfer:ListNotifications or asyncinfer:ReplayNotifications.

       --state (string)
          list: only notifications in this state: pending, delivered or
          failed. replay: only failed is accepted.

       --endpoint-name (string)
          list: only notifications of this endpoint.

       --limit (integer)
          list: at most this many, newest first (1-1000). Default 100.

       --ids (string)
          replay: comma-separated notification ids (the "id" field of
          "list", also the webhook-id header). Without it every failed
          notification is replayed.

EXAMPLES
       What failed, and why:

          asyncinfer notifications list --state failed

       Replay everything that failed once the receiver is fixed:

          asyncinfer notifications replay

       Replay two of them, on a server on another port:

          asyncinfer notifications replay --endpoint-url http://127.0.0.1:8090 \\
              --ids result-0190e6a4-7f3c-7abc-8def-0123456789ab,test-0190e6a5-0000-7000-8000-000000000000
`;

export const KEYS_HELP = `NAME
       keys -

DESCRIPTION
       Manages the access keys a server accepts, kept in its catalog (the data
       dir's catalog.db, or Redis with --redis-url or a redis queue in the
       config, shared by every gateway and worker). A running server reads
       them again every second: no restart. Keys in the config file are
       listed too, but changed only there.

       A key signs requests with AWS Signature Version 4. Without --policy
       it may do everything; with one, only what its IAM-style policy
       allows (see docs/security.md).

SYNOPSIS
       asyncinfer keys create [--policy <value>] [--description <value>]
       asyncinfer keys list
       asyncinfer keys enable --access-key-id <value>
       asyncinfer keys disable --access-key-id <value>
       asyncinfer keys delete --access-key-id <value>

       Each also takes [--config <value>] [--data-dir <value>]
       [--redis-url <value>], as "asyncinfer serve" does.

OPTIONS
       --policy (string)
          create: an IAM policy document, as JSON or file://path.json:
          {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
          "Action": "sagemaker:InvokeEndpointAsync", "Resource":
          "arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo"}]}

       --description (string)
          create: a note shown by list.

       --access-key-id (string)
          The key to enable, disable or delete.

EXAMPLES
       A key that may only invoke the demo endpoint:

          asyncinfer keys create --description "batch job" --policy \\
              '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sagemaker:InvokeEndpointAsync","Resource":"arn:aws:sagemaker:us-east-1:123456789012:endpoint/demo"}]}'

       The secret is printed once, as "aws iam create-access-key" does.
       Take a key out of use at once, and later for good:

          asyncinfer keys disable --access-key-id AKIA...
          asyncinfer keys delete --access-key-id AKIA...
`;
