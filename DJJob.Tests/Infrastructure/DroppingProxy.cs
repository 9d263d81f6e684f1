using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace DJJobNet.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 in front of the MySQL server that can cut a connection the moment the client sends a query,
/// as a server restart or a network fault does ("MySQL server has gone away").
/// </summary>
public sealed class DroppingProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _upstreamHost;
    private readonly int _upstreamPort;
    private readonly CancellationTokenSource _stop = new();
    private int _queriesToDrop;

    public DroppingProxy(string upstreamHost, int upstreamPort)
    {
        _upstreamHost = upstreamHost;
        _upstreamPort = upstreamPort;
        _listener.Start();
        _ = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private byte[] _marker = [];

    /// <summary>The next <paramref name="count"/> queries (COM_QUERY packets) that contain <paramref name="marker"/> cut their connection instead of reaching the server.</summary>
    public void Drop(int count, string marker)
    {
        _marker = System.Text.Encoding.UTF8.GetBytes(marker);
        Volatile.Write(ref _queriesToDrop, count);
    }

    public int Dropped;

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            _ = Serve(client);
        }
    }

    private readonly ConcurrentDictionary<TcpClient, bool> _open = new();
    private volatile bool _down;

    /// <summary>Like a server restart: every open connection is cut, and new ones are refused until <see cref="EndOutage"/>.</summary>
    public void BeginOutage()
    {
        _down = true;
        foreach (var client in _open.Keys) client.Client.Close();
    }

    public void EndOutage() => _down = false;

    private async Task Serve(TcpClient client)
    {
        using var _ = client;
        if (_down) return;
        _open[client] = true;
        try
        {
            await Forward(client);
        }
        finally
        {
            _open.TryRemove(client, out var _);
        }
    }

    private async Task Forward(TcpClient client)
    {
        using var upstream = new TcpClient();
        await upstream.ConnectAsync(_upstreamHost, _upstreamPort);
        var fromClient = Pump(client.GetStream(), upstream.GetStream(), inspect: true);
        var fromServer = Pump(upstream.GetStream(), client.GetStream(), inspect: false);
        await Task.WhenAny(fromClient, fromServer);
        client.Client.Close();
        upstream.Client.Close();
    }

    private async Task Pump(NetworkStream from, NetworkStream to, bool inspect)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _stop.Token);
                if (n == 0) return;
                if (inspect && HasQuery(buffer.AsSpan(0, n)) && TakeDrop()) return;
                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private bool TakeDrop()
    {
        while (true)
        {
            var left = Volatile.Read(ref _queriesToDrop);
            if (left <= 0) return false;
            if (Interlocked.CompareExchange(ref _queriesToDrop, left - 1, left) == left)
            {
                Interlocked.Increment(ref Dropped);
                return true;
            }
        }
    }

    // MySQL packets: 3-byte length, 1-byte sequence, then the command; a query starts a sequence with 0x03.
    private bool HasQuery(ReadOnlySpan<byte> data)
    {
        if (data.IndexOf(_marker) < 0) return false;
        var offset = 0;
        while (offset + 5 <= data.Length)
        {
            var length = data[offset] | data[offset + 1] << 8 | data[offset + 2] << 16;
            if (data[offset + 3] == 0 && data[offset + 4] == 0x03) return true;
            offset += 4 + length;
        }
        return false;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }
}
