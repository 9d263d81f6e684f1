using DJJobNet.Tests.Infrastructure;

namespace DJJobNet.Tests;

[TestFixture("mysql")]
[TestFixture("sqlite")]
public sealed class EnqueueTests(string driver) : StoreTest(driver)
{
    [Test]
    public void Enqueue_StoresOneRow_WithTypeTaggedHandlerAndUtcTimes()
    {
        var id = Enqueue(new CountingJob { Key = "k1" }, "mail");

        var row = Row(id)!;
        Assert.That(row.Handler, Does.Contain("\"$type\":\"DJJobNet.Tests.Infrastructure.CountingJob, DJJob.Tests\"").And.Contain("\"Key\":\"k1\""));
        Assert.That(row.Queue, Is.EqualTo("mail"));
        Assert.That(row.Attempts, Is.Zero);
        Assert.That(row.CreatedAt, Is.EqualTo(Now));
        Assert.That(row.RunAt, Is.EqualTo(Now), "a job without runAt is due at once");
        Assert.That(row.LockedAt, Is.Null);
        Assert.That(row.FailedAt, Is.Null);
        Assert.That(row.Error, Is.Null);
    }

    [Test]
    public void Enqueue_ReturnsIncreasingIds()
    {
        var first = Enqueue(new CountingJob());
        var second = Enqueue(new CountingJob());
        Assert.That(second, Is.GreaterThan(first));
    }

    [Test]
    public void Enqueue_StoresTheSameInstant_WhateverTheOffsetOrKindOfRunAt()
    {
        var instant = new DateTimeOffset(2026, 12, 24, 9, 0, 0, TimeSpan.FromHours(9)); // 00:00 UTC
        var viaOffset = Enqueue(new CountingJob(), runAt: instant);
        var viaUtc = Enqueue(new CountingJob(), runAt: instant.UtcDateTime);
        var viaLocal = Enqueue(new CountingJob(), runAt: instant.LocalDateTime);

        var expected = new DateTime(2026, 12, 24, 0, 0, 0);
        Assert.That(Row(viaOffset)!.RunAt, Is.EqualTo(expected));
        Assert.That(Row(viaUtc)!.RunAt, Is.EqualTo(expected));
        Assert.That(Row(viaLocal)!.RunAt, Is.EqualTo(expected));
    }

    [Test]
    public void BulkEnqueue_InsertsEveryJob_AcrossChunks()
    {
        var jobs = Enumerable.Range(0, 1203).Select(i => new CountingJob { Key = $"bulk{i}" }).ToList();

        var inserted = Context.BulkEnqueue(jobs, "bulk", null);

        Assert.That(inserted, Is.EqualTo(1203));
        Assert.That(Store.Status("bulk"), Is.EqualTo(new JobStatus(1203, 0, 0, 1203)));
        Assert.That(Scalar<long>("SELECT COUNT(DISTINCT handler) FROM `{table}`"), Is.EqualTo(1203));
    }

    [Test]
    public void BulkEnqueue_ReturnsZero_WhenGivenNoJobs()
    {
        Assert.That(Context.BulkEnqueue([], "default", null), Is.Zero);
    }

    [Test]
    public void BulkEnqueue_InsertsNothing_WhenOneJobCannotBeStored()
    {
        IJob[] jobs = [new CountingJob(), new PayloadJob { Payload = new NotAJob() }];

        Assert.That(() => Context.BulkEnqueue(jobs, "default", null), Throws.InstanceOf<DJException>());
        Assert.That(Store.Status("default").Total, Is.Zero);
    }

    [Test]
    public void Enqueue_Throws_WhenAMemberWouldNeedANonJobTypeTag()
    {
        var error = Assert.Throws<DJException>(() => Enqueue(new PayloadJob { Payload = new NotAJob() }));
        Assert.That(error!.Message, Does.Contain("NotAJob").And.Contain("not a job"));
        Assert.That(Store.Status("default").Total, Is.Zero);
    }

    [Test]
    public void Enqueue_StoresPlainMembersOfObjectType()
    {
        var id = Enqueue(new PayloadJob { Payload = "just a string" });
        Assert.That(Row(id)!.Handler, Does.Contain("just a string"));
    }

    [TestCase("")]
    [TestCase(null)]
    public void Enqueue_Throws_WhenTheQueueNameIsEmpty(string? queue)
    {
        Assert.That(() => Enqueue(new CountingJob(), queue!), Throws.InstanceOf<DJException>().With.Message.Contains("queue"));
    }

    [Test]
    public void Status_CountsOutstandingLockedFailedAndTotal_OfOneQueue()
    {
        var locked = Enqueue(new CountingJob());
        var failed = Enqueue(new CountingJob());
        Enqueue(new CountingJob());
        Enqueue(new CountingJob(), runAt: Now.AddHours(1));
        Enqueue(new CountingJob(), "other");
        Execute("UPDATE `{table}` SET locked_at = @now, locked_by = 'w' WHERE id = @locked", new { now = Now, locked });
        Execute("UPDATE `{table}` SET failed_at = @now, error = 'x' WHERE id = @failed", new { now = Now, failed });

        Assert.That(Store.Status("default"), Is.EqualTo(new JobStatus(Outstanding: 2, Locked: 1, Failed: 1, Total: 4)));
        Assert.That(Store.Status("other"), Is.EqualTo(new JobStatus(1, 0, 0, 1)));
        Assert.That(Store.Status("empty"), Is.EqualTo(new JobStatus(0, 0, 0, 0)));
    }

    [Test]
    public void Install_IsSafeToRunTwice()
    {
        var id = Enqueue(new CountingJob());
        Store.Install();
        Assert.That(Row(id), Is.Not.Null);
    }

    [Test]
    public void Enqueue_RoundTripsUnicode()
    {
        var id = Enqueue(new CountingJob { Key = "Fête 🎉 Zürich" });
        Assert.That(Row(id)!.Handler, Does.Contain("Fête 🎉 Zürich"));
    }
}
