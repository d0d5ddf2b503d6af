//! The distributed engine (`--features distributed`): the same job, the same SQL models and
//! the same outputs, on an Apache DataFusion Ballista cluster.
//!
//! A run stays the client: it takes the output's lock, plans the days, registers the input,
//! the models and the run's small tables, and commits the partitions, as in local mode. Each
//! query it runs is sent to the scheduler, which splits it into stages and hands their tasks
//! to the executors; they read the input and write the staged output files themselves, so
//! both must be on storage every machine reaches (S3). The tables a run builds in Rust are
//! written as Parquet under the run's staging area for the same reason (`scratch.rs`):
//! Ballista ships a plan, never an in-memory table.
//!
//! `session_place`, `url_host` and `url_parameter` are not Ballista's functions. The
//! scheduler decodes every plan that calls them and the executors run them, so both must have
//! them registered: `sessionize scheduler` and `sessionize executor` are Ballista's own
//! scheduler and executor processes with the functions registered and S3 set up from the session (`storage::cluster`), and
//! `--engine ballista-standalone` starts the same two in this process.
//!
//! Two guards against a job that never ends: the scheduler's session plans empty inputs so
//! that every task of a stage reports the same metrics (`MeteredConstantLeaves`: a task
//! whose count differed was refused, and its job waited forever), and every job the run
//! sends has a deadline (`--job-timeout`, `BoundedJobs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use arrow::array::{RecordBatch, RecordBatchOptions, new_null_array};
use arrow_flight::flight_service_server::FlightServiceServer;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::ids::new_instance_id;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::ExecutorRegistration;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::scheduler::{
    ExecutorOperatingSystemSpecification, ExecutorSpecification,
};
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_core::{BALLISTA_PROTOCOL_VERSION, ConfigProducer, RuntimeProducer};
use ballista_executor::execution_loop;
use ballista_executor::executor::Executor;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::health::ExecutorHealth;
use ballista_executor::metrics::LoggingMetricsCollector;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::catalog::Session;
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::TaskContext;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::LogicalPlanNode;
use futures::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

use crate::config::RunSettings;
use crate::storage::cluster::{S3Options, runtime};

/// A cluster a run sends its queries to: one it was pointed at, or one it started.
pub struct Cluster {
    /// `df://host:port`.
    scheduler: String,
    /// The engine, as the run's messages name it.
    engine: String,
}

impl Cluster {
    pub fn remote(scheduler: &str) -> Self {
        Cluster {
            scheduler: scheduler.to_string(),
            engine: format!("ballista (scheduler {scheduler})"),
        }
    }

    /// Starts a scheduler and an executor in this process, on a free port of localhost. The
    /// executor runs tasks with the session set up here: our functions, and the process's
    /// runtime, whose stores (local disk and the run's S3 buckets) the run registered when
    /// it started.
    pub async fn standalone(settings: &RunSettings) -> Result<Self> {
        let state = client_state(settings)?;
        let address = ballista_scheduler::standalone::new_standalone_scheduler_from_state(&state)
            .await
            .map_err(|e| anyhow!("cannot start the in-process Ballista scheduler: {e}"))?;
        let url = format!("http://localhost:{}", address.port());
        let started = std::time::Instant::now();
        let scheduler = loop {
            match SchedulerGrpcClient::connect(url.clone()).await {
                Ok(client) => break client,
                Err(e) if started.elapsed() > Duration::from_secs(30) => {
                    return Err(anyhow!(
                        "the in-process Ballista scheduler at {url} does not answer: {e}"
                    ));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let vcores = state.config().ballista_standalone_parallelism();
        start_executor(scheduler, vcores, &state)
            .await
            .context("cannot start the in-process Ballista executor")?;
        tracing::info!(scheduler = %url, vcores, "in-process Ballista cluster started");
        Ok(Cluster {
            scheduler: format!("df://localhost:{}", address.port()),
            engine: "ballista-standalone".to_string(),
        })
    }

    /// A new session on the cluster, for one attempt at the job. Every query it sends is
    /// bounded by the run's job timeout.
    pub async fn context(&self, settings: &RunSettings) -> Result<SessionContext> {
        let remote = SessionContext::remote_with_state(&self.scheduler, client_state(settings)?)
            .await
            .with_context(|| format!("cannot reach the Ballista scheduler {}", self.scheduler))?
            .state();
        let bounded = BoundedJobs {
            planner: remote.query_planner().clone(),
            timeout: settings.job_timeout,
            engine: self.engine.clone(),
        };
        let ctx = SessionContext::new_with_state(
            SessionStateBuilder::new_from_existing(remote)
                .with_query_planner(Arc::new(bounded))
                .build(),
        );
        // Ballista's session keeps its own list of functions: ours go back in
        let mut ctx = ctx;
        crate::engine::register_functions(&mut ctx)?;
        Ok(ctx)
    }
}

/// Ballista's in-process executor (as its `new_standalone_executor_from_state` starts one),
/// running tasks in the run's own session (its runtime: the memory limit and spill
/// directory), with its shuffle files in the run's temporary directory. Ballista's own
/// writes them in a directory of the system's temporary directory that nothing removes,
/// so every run would leave its shuffled data behind.
async fn start_executor(
    scheduler: SchedulerGrpcClient<Channel>,
    vcores: usize,
    state: &SessionState,
) -> Result<()> {
    let work_dir = crate::engine::temp_dir().join("shuffle");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let work_dir = work_dir.to_string_lossy().into_owned();
    // shuffle data is served to the tasks of later stages over Arrow Flight
    let listener = tokio::net::TcpListener::bind("localhost:0").await?;
    let registration = ExecutorRegistration {
        id: new_instance_id(),
        host: Some("localhost".to_string()),
        port: u32::from(listener.local_addr()?.port()),
        // unused: this executor asks the scheduler for tasks, none are pushed to it
        grpc_port: 50020,
        specification: Some(
            ExecutorSpecification::default()
                .with_vcores(u32::try_from(vcores)?)
                .into(),
        ),
        os_info: Some(ExecutorOperatingSystemSpecification::default().into()),
        ballista_protocol_version: BALLISTA_PROTOCOL_VERSION,
    };
    let config = state.config().clone().upgrade_for_ballista();
    let max_message_size = config.ballista_grpc_client_max_message_size();
    let runtime = state.runtime_env().clone();
    let config_producer: ConfigProducer = Arc::new(move || config.clone());
    let runtime_producer: RuntimeProducer = Arc::new(move |_| Ok(runtime.clone()));
    let executor = Arc::new(Executor::with_default_execution_engine(
        registration,
        &work_dir,
        runtime_producer,
        config_producer,
        Arc::new(BallistaFunctionRegistry::from(state)),
        Arc::new(LoggingMetricsCollector::default()),
        vcores,
    ));
    let flight = FlightServiceServer::new(BallistaFlightService::new(work_dir))
        .max_decoding_message_size(max_message_size)
        .max_encoding_message_size(max_message_size);
    tokio::spawn(
        create_grpc_server(&GrpcServerConfig::default())
            .add_service(flight)
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let codec: BallistaCodec = BallistaCodec::new(
        state.config().ballista_logical_extension_codec(),
        state.config().ballista_physical_extension_codec(),
    );
    tokio::spawn(execution_loop::poll_loop(
        scheduler,
        executor,
        codec,
        None,
        None,
        ExecutorHealth::new(),
    ));
    Ok(())
}

/// Ballista's query planner, whose every job gets a deadline: a job the cluster never
/// finishes (a task status its scheduler refused, an executor that went away without a
/// word) would otherwise hold the run, and the output's lock, forever.
#[derive(Debug)]
struct BoundedJobs {
    planner: Arc<dyn QueryPlanner + Send + Sync>,
    timeout: Duration,
    engine: String,
}

#[async_trait::async_trait]
impl QueryPlanner for BoundedJobs {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let plan = self
            .planner
            .create_physical_plan(logical_plan, session)
            .await?;
        // what Ballista plans here rather than on the cluster needs no deadline
        if !plan.is::<DistributedQueryExec<LogicalPlanNode>>() {
            return Ok(plan);
        }
        Ok(Arc::new(JobDeadlineExec {
            job: plan,
            timeout: self.timeout,
            engine: self.engine.clone(),
        }))
    }
}

/// A Ballista job (`DistributedQueryExec`) that fails once `timeout` has passed since it
/// was sent, naming the job and the engine.
#[derive(Debug, Clone)]
struct JobDeadlineExec {
    job: Arc<dyn ExecutionPlan>,
    timeout: Duration,
    engine: String,
}

impl JobDeadlineExec {
    fn expired(&self) -> DataFusionError {
        let job = self
            .job
            .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()
            .and_then(|job| job.job_id())
            .map(|id| format!("the Ballista job {id}"))
            .unwrap_or_else(|| "a Ballista job (not yet given an id)".to_string());
        DataFusionError::Execution(format!(
            "{job} did not finish within {} on the {} engine (--job-timeout, [engine] \
             job_timeout); the scheduler's log says which of its tasks did not end",
            humantime::format_duration(self.timeout),
            self.engine
        ))
    }
}

impl DisplayAs for JobDeadlineExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "JobDeadlineExec: timeout={}",
            humantime::format_duration(self.timeout)
        )
    }
}

impl ExecutionPlan for JobDeadlineExec {
    fn name(&self) -> &str {
        "JobDeadlineExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.job.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.job]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::error::Result<TreeNodeRecursion>,
    ) -> datafusion::error::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let (Some(job), true) = (children.pop(), children.is_empty()) else {
            return Err(DataFusionError::Internal(
                "JobDeadlineExec has one child".into(),
            ));
        };
        Ok(Arc::new(JobDeadlineExec {
            job,
            timeout: self.timeout,
            engine: self.engine.clone(),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::error::Result<SendableRecordBatchStream> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let batches = self.job.execute(partition, context)?;
        let this = Arc::new(self.clone());
        // the job's stream yields when the job has finished: until then, the clock runs
        let bounded = futures::stream::unfold(Some(batches), move |batches| {
            let this = this.clone();
            async move {
                let mut batches = batches?;
                match tokio::time::timeout_at(deadline, batches.next()).await {
                    Ok(Some(batch)) => Some((batch, Some(batches))),
                    Ok(None) => None,
                    // named now: the job has its id once the scheduler took it
                    Err(_) => Some((Err(this.expired()), None)),
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.job.schema(),
            bounded,
        )))
    }
}

/// Our session settings, with what a Ballista session needs on top: the run's `s3.*`
/// settings, for the scheduler and executors; the adaptive planner off (with remote object
/// stores it fails to plan in Ballista 55); and no dynamic filters, which DataFusion builds
/// for one process: the scheduler's stage planning then fails ("Cannot swap HashJoinExec
/// inputs after dynamic filters have been constructed"), and a filter whose producer and
/// consumer land in different stages is never filled.
fn cluster_config(s3: S3Options) -> Result<SessionConfig> {
    // Ballista's own DataFusion settings first (sort-merge joins, no round-robin
    // repartition, scalar subqueries as joins, …): they are applied only to a config that
    // has no Ballista settings yet
    let mut config = crate::engine::job_config()?
        .upgrade_for_ballista()
        .with_option_extension(s3)
        .with_ballista_adaptive_query_planner(false);
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.enable_dynamic_filter_pushdown = false;
    optimizer.enable_join_dynamic_filter_pushdown = false;
    optimizer.enable_topk_dynamic_filter_pushdown = false;
    optimizer.enable_aggregate_dynamic_filter_pushdown = false;
    Ok(config)
}

fn client_state(settings: &RunSettings) -> Result<SessionState> {
    let config = cluster_config(S3Options::from_settings(&settings.s3))?;
    // the process's runtime: the in-process executor spills and reads stores through it;
    // the in-process scheduler plans with this very state
    Ok(state(config, crate::engine::runtime())?)
}

/// The session a scheduler plans with and an executor runs tasks in, from the settings the
/// client sent: stores built from its `s3.*`, and our functions.
fn server_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let runtime = runtime(&config, None)?;
    state(config, runtime)
}

/// Every session of a cluster, the client's and the servers': our functions, and the
/// scheduler's last planning step (`MeteredConstantLeaves`).
fn state(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> datafusion::error::Result<SessionState> {
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(MeteredConstantLeaves))
        .build();
    crate::engine::register_functions(&mut state)?;
    Ok(state)
}

/// Plans the leaves that produce no rows (`EmptyExec`: an empty table, a filter known to
/// be false) or one row of nulls (`PlaceholderRowExec`: a select without a from) as the
/// in-memory scans of the same rows and partitions, the last thing the scheduler's planner
/// does.
///
/// Ballista 55 gives each task a copy of its stage's plan cut down to the task's own
/// partitions, and turns such a leaf that the task does not read into an in-memory scan of
/// no partitions (`restrict_plan_to_partitions`). The leaves report no metrics and the scan
/// does, so in a stage with one of them beside another input under a union (a dated run:
/// the earlier days' sessions and an empty table of earlier bots' sessions) the task that
/// reads the leaf reports one operator fewer than the others. The scheduler takes the first
/// task's count as the stage's and refuses the status of a task whose count differs
/// ("task metrics array size 5 does not equal with the stage metrics array size 6"), so
/// that task never finishes and the job waits forever. An in-memory scan, cut down or not,
/// always reports metrics: every task's count is the same.
#[derive(Debug)]
struct MeteredConstantLeaves;

impl PhysicalOptimizerRule for MeteredConstantLeaves {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let rows = if node.is::<EmptyExec>() {
                0
            } else if node.is::<PlaceholderRowExec>() {
                1
            } else {
                return Ok(Transformed::no(node));
            };
            let schema = node.schema();
            let partition = if rows == 0 {
                Vec::new()
            } else {
                let columns = schema
                    .fields()
                    .iter()
                    .map(|field| new_null_array(field.data_type(), rows))
                    .collect();
                let options = RecordBatchOptions::new().with_row_count(Some(rows));
                match RecordBatch::try_new_with_options(schema.clone(), columns, &options) {
                    Ok(batch) => vec![batch],
                    // a column that cannot be null: leave the leaf as DataFusion planned it
                    Err(_) => return Ok(Transformed::no(node)),
                }
            };
            let partitions =
                vec![partition; node.properties().output_partitioning().partition_count()];
            let scan: Arc<dyn ExecutionPlan> =
                MemorySourceConfig::try_new_exec(&partitions, schema, None)?;
            Ok(Transformed::yes(scan))
        })
        .data()
    }

    fn name(&self) -> &str {
        "metered_constant_leaves"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The settings a scheduler or an executor starts from, before the client's are applied:
/// built once, when the server starts (a bad `DATAFUSION_*` variable stops it there), and
/// handed out as they are to every session.
fn server_config() -> Result<ConfigProducer> {
    let config = cluster_config(S3Options::default())?;
    Ok(Arc::new(move || config.clone()))
}

/// `sessionize scheduler`.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind_host: String,
    pub port: u16,
    /// The host executors and clients reach the scheduler at.
    pub external_host: String,
}

/// Runs a Ballista scheduler that knows our functions, until the process is stopped.
pub async fn run_scheduler(options: SchedulerOptions) -> Result<()> {
    let address: SocketAddr = format!("{}:{}", options.bind_host, options.port)
        .parse()
        .with_context(|| format!("not an address: {}:{}", options.bind_host, options.port))?;
    let config = SchedulerConfig {
        bind_host: options.bind_host,
        bind_port: options.port,
        external_host: options.external_host,
        ..SchedulerConfig::default()
    }
    .with_override_config_producer(server_config()?)
    .with_override_session_builder(Arc::new(server_state));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| anyhow!("cannot set up the scheduler's state: {e}"))?;
    start_server(cluster, address, Arc::new(config))
        .await
        .map_err(|e| anyhow!("the scheduler stopped: {e}"))
}

/// `sessionize executor`.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind_host: String,
    /// The host the scheduler and other executors reach this one at.
    pub external_host: Option<String>,
    /// Arrow Flight (shuffle data) port.
    pub port: u16,
    /// gRPC (tasks) port.
    pub grpc_port: u16,
    /// Tasks run at once; `None`: one per core.
    pub vcores: Option<usize>,
    /// Where shuffle files go; `None`: a temporary directory.
    pub work_dir: Option<String>,
}

/// Runs a Ballista executor that knows our functions and reaches S3 as the run says,
/// until the process is stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let defaults = ExecutorProcessConfig::default();
    let config_producer = server_config()?;
    let functions: BallistaFunctionRegistry = (&server_state(config_producer())?).into();
    // spills go where the shuffle files do when a --work-dir is given, as in Ballista's own
    // executor
    let spill_dir = options.work_dir.clone();
    let runtime_producer: RuntimeProducer =
        Arc::new(move |config| runtime(config, spill_dir.as_deref()));
    let config = ExecutorProcessConfig {
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        bind_host: options.bind_host,
        external_host: options.external_host,
        port: options.port,
        grpc_port: options.grpc_port,
        vcores: options.vcores.unwrap_or(defaults.vcores),
        work_dir: options.work_dir,
        override_function_registry: Some(Arc::new(functions)),
        override_config_producer: Some(config_producer),
        override_runtime_producer: Some(runtime_producer),
        ..defaults
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| anyhow!("the executor stopped: {e}"))
}
