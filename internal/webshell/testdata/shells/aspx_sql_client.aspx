<%@ Page Language="C#" %>
<%@ Import Namespace="System.Data.SqlClient" %>
<script runat="server">
void Run(object sender, EventArgs e) {
    var conn = new SqlConnection();
    conn.ConnectionString = txtConn.Text;
    conn.Open();
    var cmd = new SqlCommand(txtSql.Text, conn);
    grid.DataSource = cmd.ExecuteReader();
    grid.DataBind();
}
</script>
<form runat="server">
<asp:TextBox ID="txtConn" runat="server" /><asp:TextBox ID="txtSql" runat="server" />
<asp:Button runat="server" OnClick="Run" Text="Go" /><asp:GridView ID="grid" runat="server" />
</form>
